import Foundation
import Testing
import RNNCore
import RNNTestSupport

/// Adaptive `tau_max` (Aicher, Foti & Fox 2019; SPEC 3.4, `AdaptiveTruncation`).
@Suite("adaptive truncation")
struct AdaptiveTruncationTests {
    /// A linear rnn layer with `TW = r·I` (identity activation) has an exactly geometric credit
    /// profile, `∂C_t/∂h_{t−k} = r^k ∂C_t/∂h_t`: the fitted `β` is `r`, `ρ(K) = r^K`, and the
    /// chosen `K` is `ceil(log(delta) / log(r))`.
    @Test(arguments: [(0.5, 0.1), (0.7, 0.3), (0.8, 0.1), (0.9, 0.05), (0.95, 0.2), (0.6, 0.001)])
    func geometricCreditGivesTheClosedFormWindow(_ r: Double, _ delta: Double) {
        let expected = Int((Foundation.log(delta) / Foundation.log(r)).rounded(.up))
        let adaptive = AdaptiveTruncation(delta: delta, maxLag: 60)
        let trainer = linearTrainer(Double.self, r: r, adaptive: adaptive)
        trainer.chooseAdaptiveWindow(linearBatch(), adaptive)
        let estimate = trainer.adaptiveEstimate
        #expect(trainer.adaptiveChoice?.k == expected, "r \(r), delta \(delta)")
        #expect(abs((estimate?.beta ?? 0) - r) < 1e-10)
        #expect(abs((estimate?.rho ?? 0) - Foundation.pow(r, Double(expected))) < 1e-10)
        // Every lag is reached on this stream: the profile itself is r^k φ_0.
        let phi = trainer.adaptiveProfile
        #expect(phi.count == 61 && phi.allSatisfy { $0.isFinite && $0 > 0 })
        for k in [1, 10, 60] { #expect(abs(phi[k] / phi[0] - Foundation.pow(r, Double(k))) < 1e-10) }
        // ρ at any K from the estimator is the closed form r^K.
        for k in [1, 5, 30, 59] {
            let bias = AdaptiveTruncation.estimate(profile: phi, delta: Foundation.pow(r, Double(k)) * (1 + 1e-9)).rho
            #expect(abs(bias - Foundation.pow(r, Double(k))) < 1e-10 * max(1, bias / Foundation.pow(r, Double(k))))
        }
    }

    /// The same in float32 (the measuring pass in the run's precision).
    @Test func geometricCreditInFloat32() {
        let adaptive = AdaptiveTruncation(delta: 0.1, maxLag: 40)
        let trainer = linearTrainer(Float.self, r: 0.8, adaptive: adaptive)
        trainer.chooseAdaptiveWindow(linearBatch(), adaptive)
        #expect(trainer.adaptiveChoice?.k == 11)
        #expect(abs((trainer.adaptiveEstimate?.beta ?? 0) - 0.8) < 1e-4)
    }

    /// The estimator's edges: no tail with fewer than 4 lags in the fit range or a zero there, a
    /// rising tail clamped below 1 (the window then at `max_lag`), an all-zero profile.
    @Test func estimatorEdges() {
        let short = [1, 0.5, 0.25] + [Double](repeating: .nan, count: 6)
        let s = AdaptiveTruncation.estimate(profile: short, delta: 0.2)
        #expect(s.beta == nil && s.k == 2 && abs(s.rho - 0.25 / 1.75) < 1e-15)
        let zero = [Double](repeating: 1, count: 5) + [Double](repeating: 0, count: 6)
        let z = AdaptiveTruncation.estimate(profile: zero, delta: 0.5)
        #expect(z.beta == nil && z.k == 3)
        let rising = (0...40).map { 1 + 0.01 * Double($0) }
        let up = AdaptiveTruncation.estimate(profile: rising, delta: 0.1)
        #expect(up.beta == 1 - 1e-6 && up.k == 40)
        #expect(AdaptiveTruncation.estimate(profile: [0, 0, 0], delta: 0.1) == AdaptiveEstimate(k: 1, rho: 0, beta: nil))
    }

    /// The sampled target steps: 8, the first after max_lag, spread by `g`; on a short sequence
    /// the latest ones.
    @Test func sampledSteps() {
        let stream = [Bool](repeating: true, count: 1000)
        #expect(AdaptiveTruncation.sampledSteps(hasTarget: stream, maxLag: 200) == (0..<8).map { 201 + 25 * $0 })
        #expect(AdaptiveTruncation.sampledSteps(hasTarget: stream, maxLag: 4) == Array(5...12))
        let short = (0..<12).map { $0 >= 8 }  // targets at 9 ... 12, shorter than max_lag
        #expect(AdaptiveTruncation.sampledSteps(hasTarget: short, maxLag: 50) == [9, 10, 11, 12])
    }

    /// lstm: the state is `[h; c]`. With `TW = 0` and `SW = 0` every gate is its bias, so the only
    /// path back in time is the cell's, `∂C_t/∂c_{t−k} = σ(f)^k ∂C_t/∂c_t`: the profile past
    /// lag 0 is exactly geometric with `β = σ(b_f)` (without the cell's share there would be none).
    @Test func lstmCellStateCarriesTheCredit() {
        lstmCellCredit(Double.self, tolerance: 1e-10)
        lstmCellCredit(Float.self, tolerance: 1e-5)  // float32: the vectorised cell's gate rows where AVX-512 runs it
    }

    func lstmCellCredit<S: RNNScalar>(_: S.Type, tolerance: Double) {
        let spec = NetworkSpec(inputs: 2, layers: [(.lstm, 3, .tanh), (.dense, 2, .identity)], loss: .mse)
        var w = spec.initialParameters(seed: 3)
        let layout = ParameterLayout(spec), e = layout.entries[0], u = 3
        for i in 0..<(4 * u * 2) { w[e.sw + i] = 0 }
        for i in 0..<(4 * u * u) { w[e.tw! + i] = 0 }
        let bf = 0.9
        for j in 0..<u { w[e.b + u + j] = bf; w[e.bt! + u + j] = 0 }
        let adaptive = AdaptiveTruncation(delta: 0.1, maxLag: 30)
        let trainer = TruncatedBPTT<S>(spec: spec, parameters: w, truncation: Truncation(adaptive: adaptive),
                                       optimizer: OptimizerSettings(name: .sgd, lr: 0))
        trainer.chooseAdaptiveWindow(linearBatch(spec), adaptive)
        let sigma = 1 / (1 + Foundation.exp(-Double(S(bf))))
        #expect(abs((trainer.adaptiveEstimate?.beta ?? 0) - sigma) < tolerance, "\(S.self)")
        let phi = trainer.adaptiveProfile
        for k in [2, 10, 30] { #expect(abs(phi[k] / phi[1] / Foundation.pow(sigma, Double(k - 1)) - 1) < 100 * tolerance, "\(S.self)") }
    }

    /// Measuring changes nothing of training: an adaptive run trains bit for bit as the fixed
    /// window of the K it chose, for every recurrent kind, float32, with Adam over several
    /// batches (the measuring pass runs at the first).
    @Test(arguments: [LayerKind.rnn, .lstm, .gru, .indrnn])
    func trainsAsTheChosenFixedWindow(_ kind: LayerKind) {
        let spec = NetworkSpec(inputs: 2, layers: [(kind, 5, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 2)
        let batches = (0..<3).map { i in
            SequenceBatch<Float>(TestData.samples(spec: spec, lengths: [40, 40, 40], seed: 20 + UInt64(i)), inputSize: 2, outputSize: 3)
        }
        let optimizer = OptimizerSettings(name: .adam, lr: 0.01)
        for rule in [AdaptiveTruncation.Rule.window, .buffer] {
            let adaptive = AdaptiveTruncation(delta: 0.3, maxLag: 12, rule: rule)
            let a = TruncatedBPTT<Float>(spec: spec, parameters: weights, truncation: Truncation(adaptive: adaptive), optimizer: optimizer)
            for (i, b) in batches.enumerated() { _ = a.train(b, at: BatchPosition(epoch: 1, index: i), observer: nil) }
            let k = a.adaptiveChoice?.k ?? 0
            #expect(k >= 1 && k <= 12)
            let fixed = TruncatedBPTT<Float>(spec: spec, parameters: weights, truncation: adaptive.truncation(k: k), optimizer: optimizer)
            for b in batches { _ = fixed.train(b, observer: nil) }
            #expect(a.parameters.map(\.bitPattern) == fixed.parameters.map(\.bitPattern), "\(kind) \(rule)")
        }
    }

    /// The window is re-chosen at the first batch of every `every`-th epoch only, and a trainer
    /// restored from `exportState` keeps it: the rest of the run is bit-identical.
    @Test func checkpointStateKeepsTheWindow() {
        let spec = NetworkSpec(inputs: 2, layers: [(.rnn, 6, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 4)
        let batches = (0..<2).map { i in
            SequenceBatch<Double>(TestData.samples(spec: spec, lengths: [30, 30], seed: 40 + UInt64(i)), inputSize: 2, outputSize: 3)
        }
        let adaptive = AdaptiveTruncation(delta: 0.2, every: 2, maxLag: 10)
        let optimizer = OptimizerSettings(name: .adam, lr: 0.05)
        func make() -> TruncatedBPTT<Double> {
            TruncatedBPTT<Double>(spec: spec, parameters: weights, truncation: Truncation(adaptive: adaptive), optimizer: optimizer)
        }
        let whole = make()
        var chosen: [Int] = []
        for epoch in 1...3 {
            for (i, b) in batches.enumerated() { _ = whole.train(b, at: BatchPosition(epoch: epoch, index: i), observer: nil) }
            chosen.append(whole.adaptiveChoice?.k ?? 0)
        }
        // Stopped after epoch 1's first batch, then restored into a fresh trainer.
        let first = make()
        _ = first.train(batches[0], at: BatchPosition(epoch: 1, index: 0), observer: nil)
        let state = first.exportState()
        #expect(state.adaptive == first.adaptiveChoice && state.adaptive != nil)
        let resumed = make()
        #expect(resumed.restore(state) && resumed.adaptiveChoice == state.adaptive)
        _ = resumed.train(batches[1], at: BatchPosition(epoch: 1, index: 1), observer: nil)
        for epoch in 2...3 {
            for (i, b) in batches.enumerated() { _ = resumed.train(b, at: BatchPosition(epoch: epoch, index: i), observer: nil) }
        }
        #expect(resumed.parameters.map(\.bitPattern) == whole.parameters.map(\.bitPattern))
        #expect(chosen[1] == chosen[0])  // every: 2 — epoch 2 keeps epoch 1's window
    }

    /// Against the numpy reference (`Tests/Reference/adaptive_reference.py`, written from SPEC 3.4
    /// alone, summing the geometric series by brute force): a trained network's measured
    /// profile gives the same `β`, `K` and `ρ`, for several `delta`.
    @Test(arguments: [LayerKind.rnn, .lstm])
    func estimatorAgreesWithNumpy(_ kind: LayerKind) throws {
        let spec = NetworkSpec(inputs: 2, layers: [(kind, 8, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let batches = (0..<6).map { i in
            SequenceBatch<Double>(TestData.samples(spec: spec, lengths: [80, 80, 80, 80], seed: 60 + UInt64(i)), inputSize: 2, outputSize: 3)
        }
        let adaptive = AdaptiveTruncation(delta: 0.1, maxLag: 40)
        let trainer = TruncatedBPTT<Double>(spec: spec, parameters: spec.initialParameters(seed: 6),
                                            truncation: Truncation(adaptive: adaptive), optimizer: OptimizerSettings(name: .adam, lr: 0.02))
        for (i, b) in batches.enumerated() { _ = trainer.train(b, at: BatchPosition(epoch: 1 + i, index: 0), observer: nil) }
        let phi = trainer.adaptiveProfile
        #expect(phi.count == 41 && phi.allSatisfy { $0.isFinite && $0 > 0 })
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Reference/adaptive_reference.py")
        for delta in [0.5, 0.1, 0.01] {
            let ours = AdaptiveTruncation.estimate(profile: phi, delta: delta)
            let out = try runReferenceScript(script, case: ["phi": phi, "delta": delta])
            let reference = try #require(out.first as? [String: Any])
            let k = try #require(reference["K"] as? Int), rho = try #require(reference["rho"] as? Double)
            let beta = try #require(reference["beta"] as? Double)
            #expect(ours.k == k, "\(kind) delta \(delta): K \(ours.k) against numpy's \(k)")
            #expect(abs(ours.rho - rho) <= 1e-9 * rho, "\(kind) delta \(delta): rho \(ours.rho) against \(rho)")
            #expect(abs((ours.beta ?? -1) - beta) <= 1e-12, "\(kind): beta \(ours.beta ?? -1) against \(beta)")
        }
    }
}

/// One rnn layer of 4 identity units with `TW = r·I` (the other weights the seed's) under a
/// linear readout, mse.
private func linearTrainer<S: RNNScalar>(_: S.Type, r: Double, adaptive: AdaptiveTruncation) -> TruncatedBPTT<S> {
    let spec = linearSpec
    var w = spec.initialParameters(seed: 1)
    let e = ParameterLayout(spec).entries[0], u = 4
    for i in 0..<u { for j in 0..<u { w[e.tw! + i * u + j] = i == j ? r : 0 } }
    return TruncatedBPTT<S>(spec: spec, parameters: w, truncation: Truncation(adaptive: adaptive),
                            optimizer: OptimizerSettings(name: .sgd, lr: 0))
}

private let linearSpec = NetworkSpec(inputs: 2, layers: [(.rnn, 4, .identity), (.dense, 2, .identity)], loss: .mse)

/// Three lanes of 150 steps with a target at every step: a stream's epoch.
private func linearBatch<S: RNNScalar>(_ spec: NetworkSpec = linearSpec) -> SequenceBatch<S> {
    SequenceBatch<S>(TestData.samples(spec: spec, lengths: [150, 150, 150], seed: 9), inputSize: spec.inputs, outputSize: spec.outputs)
}
