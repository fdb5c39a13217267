import RNNCore

/// `training:` (SPEC 5), every key at its default until the file says otherwise.
public struct TrainingSettings: Sendable, Equatable {
    public var epochs = 10
    public var batch = 32
    /// nil means `full` (or `random`, with `randomTruncation`).
    public var tauMax: Int? = nil
    /// `tau_max: random`: unbiased random truncation (ARTBP, SPEC 3.4) instead of a window.
    public var randomTruncation = false
    /// `training.truncation: {continue: c}`: random truncation's continue probability.
    public var truncationContinue = 0.9
    /// `tau_max: adaptive` (or a style's `K: adaptive`): adaptive tau_max (Aicher et al., SPEC 3.4).
    public var adaptiveTruncation = false
    /// `training.truncation: {delta, every, max_lag}`: adaptive truncation's settings.
    public var truncationDelta = AdaptiveTruncation.defaultDelta
    public var truncationEvery = AdaptiveTruncation.defaultEvery
    public var truncationMaxLag = AdaptiveTruncation.defaultMaxLag
    /// `training.style: {name, K}`: a named truncation style that sets `tau_b` and `tau_max`.
    public var style: TruncationStyle? = nil
    /// `training.style: {name, K: random}`: trains as `tau_max: random` (ARTBP has no tau_b, so the
    /// style's name does not apply); the canonical YAML keeps the style, so that a saved run's
    /// file with its sweep point (`training.style.K: [random]`) reads back.
    var styleRandom: TruncationStyle.Name? = nil
    /// nil: tau_max, or the sequence length when tau_max is `full`.
    public var tauB: Int? = nil
    public var optimizer = OptimizerSettings(name: .sgd)
    /// nil: no clipping.
    public var clipNorm: Double? = nil
    public var seed = 1
    public var shuffle = true
    public var precision = Precision.float32
    /// `training.algorithm` (SPEC 3.3): bptt, or an online algorithm.
    public var algorithm = AlgorithmName.bptt
    /// `training.rflo_decay`: rflo's trace decay λ.
    public var rfloDecay = 0.0
    /// `training.rflo_feedback`: rflo's feedback, symmetric (default) or random (SPEC 3.5).
    public var rfloFeedback = RFLOFeedback.symmetric

    public init() {}
}

/// The values of `training.algorithm`: truncated BPTT (SPEC 3) or an online algorithm (SPEC 3.3).
public enum AlgorithmName: String, Sendable, Codable, CaseIterable {
    case bptt, rtrl, snap1, uoro, rflo
    case kfRTRL = "kf-rtrl"

    /// The online algorithm, nil for bptt.
    public var online: OnlineAlgorithm? { OnlineAlgorithm(rawValue: rawValue) }
}

extension TrainingSettings: SectionSettings {
    static func of(_ config: ExperimentConfig) -> TrainingSettings { config.training }

    /// The keys of `training:`, in the canonical YAML's order. A new key is one row (with
    /// `omittedWhenDefault`, so that run ids stay) and one field above.
    static let keys: [SectionKey<TrainingSettings>] = [
        .integer("epochs", \.epochs, in: 1...ConfigResolver.Bounds.epochs),
        .integer("batch", \.batch, in: 1...ConfigResolver.Bounds.batch),
        // `style: {name, K}` (SPEC 3.4), read first: it sets tau_b and tau_max, and the canonical
        // YAML says the style instead of them. Left out when absent, so earlier ids stay.
        SectionKey(name: "style", type: .structured, read: { r, node, path, s in
            guard let node, let entries = r.entries(node, path, allowed: ["name", "K"]) else { return }
            let nameNode = entries.first { $0.key == "name" }?.value, kNode = entries.first { $0.key == "K" }?.value
            if nameNode == nil { r.error(node.location, "\(path).name", "missing (one of: \(TruncationStyle.Name.allCases.map(\.rawValue).joined(separator: ", ")))") }
            if kNode == nil { r.error(node.location, "\(path).K", "missing: the style's window K (an integer >= 1)") }
            guard let n = nameNode, let name = r.choice(n, "\(path).name", "truncation style", TruncationStyle.Name.self),
                  let k = kNode else { return }
            // K: adaptive (the style's rule applied to the chosen K), K: random (ARTBP, which has no
            // tau_b: the style's name does not apply, and the run is tau_max: random).
            if k.text == "adaptive" {
                s.style = TruncationStyle(name: name, k: 1, adaptive: true)
                s.adaptiveTruncation = true
                return
            }
            if k.text == "random" {
                s.randomTruncation = true
                s.styleRandom = name
                return
            }
            guard let value = r.int(k, "\(path).K", min: 1, max: ConfigResolver.Bounds.sequenceLength / 2) else { return }
            let style = TruncationStyle(name: name, k: value)
            s.style = style
            (s.tauB, s.tauMax) = style.window
        }, canonical: { s, _ in
            if let name = s.styleRandom { return ["  style: {name: \(name.rawValue), K: random}  # tau_max: random (ARTBP: no tau_b)"] }
            guard let style = s.style else { return [] }
            if style.adaptive {
                return ["  style: {name: \(style.name.rawValue), K: adaptive}  # tau_b, tau_max: \(style.name.formula)"]
            }
            return ["  style: {name: \(style.name.rawValue), K: \(style.k)}  # tau_b \(style.window.tauB), tau_max \(style.window.tauMax)"]
        }),
        SectionKey(name: "tau_max", type: .horizon, read: { r, node, path, s in
            guard s.style == nil && s.styleRandom == nil else { return }  // a style sets it (both given: a located error)
            if node?.text == "random" {
                s.randomTruncation = true
                s.tauMax = nil
            } else if node?.text == "adaptive" {
                s.adaptiveTruncation = true
                s.tauMax = nil
            } else {
                s.tauMax = r.horizon(node, path)
            }
        }, canonical: { s, _ in
            s.style != nil || s.styleRandom != nil ? [] : ["  tau_max: " + (s.randomTruncation ? "random" : s.adaptiveTruncation ? "adaptive"
                                                    : (s.tauMax.map(String.init) ?? "full"))]
        }),
        SectionKey(name: "tau_b", type: .integer(1...ConfigResolver.Bounds.sequenceLength), read: { r, node, path, s in
            guard let node, s.style == nil, s.styleRandom == nil else { return }
            s.tauB = r.int(node, path, min: 1, max: ConfigResolver.Bounds.sequenceLength)
        }, canonical: { s, _ in
            // Left out, it is tau_max, or the sequence length when tau_max is full.
            if s.style != nil || s.styleRandom != nil { return [] }
            if s.adaptiveTruncation { return [] }  // it follows the chosen window
            return ["  tau_b: " + (s.tauB.map(String.init) ?? s.tauMax.map(String.init) ?? "length  # the sequence length")]
        }),
        SectionKey(name: "optimizer", type: .structured, read: { r, node, _, s in
            if let o = r.resolveOptimizer(node) { s.optimizer = o }
        }, canonical: { s, _ in
            let o = s.optimizer
            return ["  optimizer:", "    name: \(o.name.rawValue)"] + o.name.parameterKeys.map { key in
                switch o[key] {
                case .real(let v): return "    \(key.rawValue): \(NumberText.format(v))"
                case .flag(let v): return "    \(key.rawValue): \(v)"
                }
            }
        }),
        .optionalReal("clip_norm", \.clipNorm, in: 0...Double.greatestFiniteMagnitude, excludingLower: true),
        .integer("seed", \.seed, in: 0...Int(Int64.max)),
        .boolean("shuffle", \.shuffle),
        .choice("precision", \.precision, what: "precision"),
        // Left out of the canonical YAML at their defaults, so earlier run ids stay.
        .choice("algorithm", \.algorithm, what: "algorithm", omittedWhenDefault: true),
        .real("rflo_decay", \.rfloDecay, in: 0...1, omittedWhenDefault: true),
        .choice("rflo_feedback", \.rfloFeedback, what: "rflo feedback", omittedWhenDefault: true),
        // `truncation: {continue: c}` (tau_max: random) or `{delta, every, max_lag}` (tau_max:
        // adaptive); each left out at its default. Which keys belong to which is checked in
        // `ConfigResolver+CrossCheck` (the other's keys: a located error).
        SectionKey(name: "truncation", type: .structured, read: { r, node, path, s in
            guard let node else { return }
            guard let entries = r.entries(node, path, allowed: ["continue", "delta", "every", "max_lag"]) else { return }
            func value(_ key: String) -> ConfigNode? { entries.first(where: { $0.key == key })?.value }
            if let c = value("continue"), let v = r.double(c, "\(path).continue", min: 0, open: true, max: 1) {
                s.truncationContinue = v
            }
            if let d = value("delta"), let v = r.double(d, "\(path).delta", min: 0, open: true, max: 1) {
                if v < 1 { s.truncationDelta = v } else { r.error(d.location, "\(path).delta", "must be less than 1 (a relative bias), found \(d.text ?? "")") }
            }
            if let e = value("every"), let v = r.int(e, "\(path).every", min: 1, max: ConfigResolver.Bounds.epochs) {
                s.truncationEvery = v
            }
            if let m = value("max_lag"), let v = r.int(m, "\(path).max_lag", min: 2, max: ConfigResolver.Bounds.sequenceLength / 2) {
                s.truncationMaxLag = v
            }
        }, canonical: { s, _ in
            var parts: [String] = []
            if s.randomTruncation && s.truncationContinue != 0.9 { parts.append("continue: \(NumberText.format(s.truncationContinue))") }
            if s.adaptiveTruncation {
                if s.truncationDelta != AdaptiveTruncation.defaultDelta { parts.append("delta: \(NumberText.format(s.truncationDelta))") }
                if s.truncationEvery != AdaptiveTruncation.defaultEvery { parts.append("every: \(s.truncationEvery)") }
                if s.truncationMaxLag != AdaptiveTruncation.defaultMaxLag { parts.append("max_lag: \(s.truncationMaxLag)") }
            }
            return parts.isEmpty ? [] : ["  truncation: {\(parts.joined(separator: ", "))}"]
        }),
    ]
}

/// A named truncation style (SPEC 3.4: Williams & Peng 1990; Aicher, Foti & Fox 2019; the
/// framework of Marschall et al.): `training.style: {name, K}` sets `(tau_b, tau_max)`.
public struct TruncationStyle: Sendable, Equatable {
    public enum Name: String, Sendable, CaseIterable {
        /// `(K, K)`: Marschall's E-BPTT, an update every K steps back K steps.
        case tf
        /// `(2K − 1, 2K − 1)`.
        case doubleTF = "double-tf"
        /// `(1, K)`: Williams & Peng's original, an update at every step back K steps.
        case original
        /// `(K, 2K − 1)`: Aicher's experiments, every injected error reaches K steps back.
        case originalBuffer = "original-buffer"

        /// `(tau_b, tau_max)` in K, as text.
        public var formula: String {
            switch self {
            case .tf: return "(K, K)"
            case .doubleTF: return "(2K − 1, 2K − 1)"
            case .original: return "(1, K)"
            case .originalBuffer: return "(K, 2K − 1)"
            }
        }
    }
    public var name: Name
    /// The window; unused with `adaptive`.
    public var k: Int
    /// `K: adaptive`: the style's rule applied to the window adaptive truncation chooses (SPEC 3.4).
    public var adaptive = false

    public init(name: Name, k: Int, adaptive: Bool = false) {
        self.name = name
        self.k = k
        self.adaptive = adaptive
    }

    /// How `(tau_b, tau_max)` follow an adaptive `K`.
    public var rule: AdaptiveTruncation.Rule {
        switch name {
        case .tf: return .window
        case .doubleTF: return .doubleWindow
        case .original: return .everyStep
        case .originalBuffer: return .buffer
        }
    }

    /// `(tau_b, tau_max)` of the style.
    public var window: (tauB: Int, tauMax: Int) {
        switch name {
        case .tf: return (k, k)
        case .doubleTF: return (2 * k - 1, 2 * k - 1)
        case .original: return (1, k)
        case .originalBuffer: return (k, 2 * k - 1)
        }
    }
}
