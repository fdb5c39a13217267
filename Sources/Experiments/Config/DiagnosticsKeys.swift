import RNNCore

extension GradientDiagnostics: SectionSettings {
    /// Off: nothing recorded.
    init() { self.init(gradientEvery: 0, referenceTauMax: nil, creditLags: 0) }

    static func of(_ config: ExperimentConfig) -> GradientDiagnostics { config.diagnostics }

    /// The keys of `diagnostics:` (SPEC 3.1), in the canonical YAML's order. The whole block is left
    /// out of the canonical YAML while diagnostics are off, so adding it changed no run id.
    static let keys: [SectionKey<GradientDiagnostics>] = [
        .integer("gradient_every", \.gradientEvery, in: 0...Int(Int32.max)),
        .horizon("reference_tau_max", \.referenceTauMax),
        .integer("credit_lags", \.creditLags, in: 0...ConfigResolver.Bounds.sequenceLength),
    ]
}
