import Foundation
import Testing
@testable import RNNCore
import RNNTestSupport

/// The online algorithms on an element-wise recurrent layer (`indrnn`, SPEC 3.5): a parameter of
/// unit `k` touches only unit `k`'s state, so within the layer `snap1` is the exact influence.
/// Each case against an independent computation (the BPTT engine, central differences, float64).
@Suite("online: element-wise layers")
struct ElementwiseOnlineTests {
    static let activations: [Activation] = [.tanh, .relu, .sigmoid]

    /// On one indrnn layer (+ a dense readout) `snap1 = rtrl =` full BPTT for one update per
    /// sequence (ragged lanes), and with `tau_b = 3` at fixed weights every update equals
    /// BPTT(3, full): the influence is exact and runs on across updates.
    @Test(arguments: activations)
    func snap1EqualsRTRLEqualsBPTTOnOneLayer(_ activation: Activation) throws {
        let spec = NetworkSpec(inputs: 3, layers: [(.indrnn, 5, activation), (.dense, 3, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 21).map { $0 * 3 }
        let samples = TestData.samples(spec: spec, lengths: [11, 7, 9], seed: 4, targetEvery: 2)
        for tauB in [0, 3] {
            let truncation = tauB == 0 ? Truncation.full : Truncation(tauB: tauB, tauMax: nil)
            let bptt = engineUpdates(spec: spec, weights: weights, samples: samples, truncation: truncation)
            for algorithm in [OnlineAlgorithm.snap1, .rtrl] {
                let ours = try onlineUpdates(Double.self, spec: spec, algorithm: algorithm, weights: weights, samples: samples,
                                             tauB: tauB).updates
                try #require(ours.count == bptt.count && !bptt.isEmpty)
                var worst = 0.0
                for (a, b) in zip(ours, bptt) {
                    #expect(a.n == b.n && a.elements == b.elements)
                    #expect(relativeError(a.loss, b.loss) < 1e-13)
                    worst = max(worst, normRelative(a.grad, b.grad))
                }
                print("online agreement: \(algorithm.rawValue) vs BPTT(\(tauB == 0 ? "full" : "3, full")), indrnn \(activation.rawValue): \(worst)")
                #expect(worst < 1e-12, "\(algorithm) \(activation) tau_b \(tauB): \(worst)")
            }
        }
    }

    /// In a stack, rtrl keeps its exact whole-stack meaning: equal to full BPTT with indrnn below,
    /// above and beside rnn and gated layers; snap1 is then the per-layer rule (not exact: it
    /// differs from BPTT, the non-vacuity check).
    @Test(arguments: [
        [(LayerKind.indrnn, 4, Activation.tanh), (.rnn, 3, .tanh), (.dense, 2, .identity)],
        [(LayerKind.rnn, 3, Activation.tanh), (.dense, 3, .tanh), (.indrnn, 4, .relu), (.dense, 2, .identity)],
        [(LayerKind.gru, 3, Activation.tanh), (.indrnn, 4, .tanh), (.dense, 2, .identity)],
    ].indices)
    func rtrlEqualsBPTTInStacks(_ index: Int) throws {
        let stacks: [[(LayerKind, Int, Activation)]] = [
            [(.indrnn, 4, .tanh), (.rnn, 3, .tanh), (.dense, 2, .identity)],
            [(.rnn, 3, .tanh), (.dense, 3, .tanh), (.indrnn, 4, .relu), (.dense, 2, .identity)],
            [(.gru, 3, .tanh), (.indrnn, 4, .tanh), (.dense, 2, .identity)],
        ]
        let spec = NetworkSpec(inputs: 2, layers: stacks[index], loss: .mse)
        let weights = spec.initialParameters(seed: 22).map { $0 * 2 }
        let samples = TestData.samples(spec: spec, lengths: [9, 6, 8], seed: 5, targetEvery: 2)
        let bptt = engineUpdates(spec: spec, weights: weights, samples: samples, truncation: .full)
        let rtrl = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: weights, samples: samples, tauB: 0).updates
        let snap = try onlineUpdates(Double.self, spec: spec, algorithm: .snap1, weights: weights, samples: samples, tauB: 0).updates
        try #require(bptt.count == 1 && rtrl.count == 1 && snap.count == 1)
        let r = normRelative(rtrl[0].grad, bptt[0].grad), s = normRelative(snap[0].grad, bptt[0].grad)
        print("online agreement: rtrl vs full BPTT, stack \(index) with indrnn: \(r); snap1 (per layer, must differ): \(s)")
        #expect(r < 1e-12)
        #expect(s > 1e-4)
    }

    /// rflo on indrnn is the rnn rule with `w_t` for `TW`'s diagonal: with `λ = 0` it is BPTT(1, 1),
    /// update for update, over an SGD run (the weights move between updates).
    @Test func rfloWithoutDecayIsBPTTOneOne() throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.indrnn, 4, .tanh), (.dense, 3, .tanh), (.indrnn, 3, .tanh), (.dense, 3, .softmax)],
                               loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 23).map { $0 * 2 }
        let samples = TestData.samples(spec: spec, lengths: [9, 6, 8], seed: 6, targetEvery: 1)
        let trainer = TruncatedBPTT<Double>(spec: spec, parameters: weights, truncation: Truncation(tauB: 1, tauMax: 1),
                                            optimizer: OptimizerSettings(name: .sgd, lr: 0.3))
        var bpttGrads: [[Double]] = []
        _ = trainer.train(SequenceBatch<Double>(samples, inputSize: 2, outputSize: 3)) { bpttGrads.append(Array($0.gradients)) }
        let ours = try onlineUpdates(Double.self, spec: spec, algorithm: .rflo, weights: weights, samples: samples, tauB: 1, lr: 0.3)
        try #require(ours.updates.count == bpttGrads.count && bpttGrads.count == 9)
        let worst = zip(ours.updates, bpttGrads).map { normRelative($0.grad, $1) }.max() ?? .infinity
        print("online agreement: rflo(0) vs BPTT(1,1) on indrnn, 9 SGD updates: \(worst)")
        #expect(worst < 1e-12)
        #expect(normRelative(ours.weights, trainer.parameters) < 1e-13)
    }

    /// rflo with decay λ on one indrnn layer: the trace `M̄_n[k, :] = λ M̄_{n-1}[k, :] + σ'(z_k) [x; h_{n-1,k}; 1]`
    /// written out here from its definition, against the engine's gradient.
    @Test func rfloTraceMatchesItsDefinition() throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.indrnn, 3, .tanh), (.dense, 2, .identity)], loss: .mse)
        let w = spec.initialParameters(seed: 24).map { $0 * 2 }
        let samples = TestData.samples(spec: spec, lengths: [6], seed: 7, targetEvery: 1)
        let lambda = 0.6
        let ours = try onlineUpdates(Double.self, spec: spec, algorithm: .rflo, weights: w, samples: samples, tauB: 0,
                                     rfloDecay: lambda).updates
        try #require(ours.count == 1)
        // The definition, one lane, float64.
        let e = ParameterLayout(spec).entries
        let (u, i, o) = (3, 2, 2)
        guard case .dense(let xs) = samples[0].inputs, case .values(let ys) = samples[0].targets else { Issue.record("dense case"); return }
        var h = [Double](repeating: 0, count: u)
        var trace = [[Double]](repeating: [Double](repeating: 0, count: i + 2), count: u)
        var grad = [Double](repeating: 0, count: spec.parameterCount)
        var elements = 0
        for n in 0..<6 {
            let x = Array(xs[(n * i)..<((n + 1) * i)])
            var hNew = [Double](repeating: 0, count: u)
            for k in 0..<u {
                var z = w[e[0].b + k] + w[e[0].tw! + k] * h[k]
                for j in 0..<i { z += w[e[0].sw + k * i + j] * x[j] }
                hNew[k] = tanh(z)
                let d = 1 - hNew[k] * hNew[k]
                for j in 0..<i { trace[k][j] = lambda * trace[k][j] + d * x[j] }
                trace[k][i] = lambda * trace[k][i] + d * h[k]
                trace[k][i + 1] = lambda * trace[k][i + 1] + d
            }
            h = hNew
            guard samples[0].mask[n] else { continue }
            var y = [Double](repeating: 0, count: o)
            for a in 0..<o {
                y[a] = w[e[1].b + a]
                for k in 0..<u { y[a] += w[e[1].sw + a * u + k] * h[k] }
            }
            var q = [Double](repeating: 0, count: u)
            for a in 0..<o {
                let dy = 2 * (y[a] - ys[n * o + a])
                grad[e[1].b + a] += dy
                for k in 0..<u { grad[e[1].sw + a * u + k] += dy * h[k]; q[k] += dy * w[e[1].sw + a * u + k] }
            }
            elements += o
            for k in 0..<u {
                for j in 0..<i { grad[e[0].sw + k * i + j] += q[k] * trace[k][j] }
                grad[e[0].tw! + k] += q[k] * trace[k][i]
                grad[e[0].b + k] += q[k] * trace[k][i + 1]
            }
        }
        let expected = grad.map { $0 / Double(elements) }
        let rel = normRelative(ours[0].grad, expected)
        print("online agreement: rflo(λ = 0.6) on indrnn vs its definition: \(rel)")
        #expect(rel < 1e-12)
    }

    /// uoro on an indrnn stack is unbiased: the mean of k estimates approaches rtrl's gradient at
    /// the 1/sqrt(k) rate (rms over 16 groups at k = 64 about 4 times that at k = 1024).
    @Test func uoroMeanApproachesRTRL() throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.indrnn, 3, .tanh), (.dense, 2, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 25).map { $0 * 3 }
        let base = TestData.samples(spec: spec, lengths: [5, 4], seed: 8, targetEvery: 1)
        let exact = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: weights, samples: base, tauB: 0).updates[0].grad
        func rms(_ k: Int) throws -> Double {
            try meanEstimateRMS(.uoro, spec: spec, weights: weights, base: base, exact: exact, copies: k, seed: 77)
        }
        let small = try rms(64), large = try rms(1024)
        print("online agreement: uoro mean vs rtrl on indrnn, rms k=64 \(small), k=1024 \(large), ratio \(small / large) (expect 4)")
        #expect(small / large > 2.5 && small / large < 6.5)
        #expect(large < 0.2)
    }

    /// The float32 fast paths (row kernels, element-wise products) against the float64 path, every
    /// algorithm, a stack with two indrnn layers and an rnn, SGD between updates.
    @Test(arguments: OnlineAlgorithm.allCases)
    func float32AgreesWithFloat64(_ algorithm: OnlineAlgorithm) throws {
        let spec = NetworkSpec(inputs: 3, layers: [(.indrnn, 20, .tanh), (.rnn, 5, .tanh), (.indrnn, 17, .relu), (.dense, 3, .softmax)],
                               loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 26)
        let samples = TestData.samples(spec: spec, lengths: [9, 7, 8], seed: 9, targetEvery: 1)
        let a = try onlineUpdates(Float.self, spec: spec, algorithm: algorithm, weights: weights, samples: samples,
                                  tauB: 2, lr: 0.1, rfloDecay: 0.3, seed: 3)
        let b = try onlineUpdates(Double.self, spec: spec, algorithm: algorithm, weights: weights, samples: samples,
                                  tauB: 2, lr: 0.1, rfloDecay: 0.3, seed: 3)
        try #require(a.updates.count == b.updates.count && !a.updates.isEmpty)
        let worst = zip(a.updates, b.updates).map { normRelative($0.grad, $1.grad) }.max() ?? .infinity
        print("online agreement: float32 vs float64 on indrnn, \(algorithm.rawValue): \(worst)")
        #expect(worst < 1e-4)
    }

    /// A checkpoint inside an update window resumes bit-identically on an indrnn stack (the
    /// carried rows hold the `w_t` and `b` columns too).
    @Test(arguments: OnlineAlgorithm.allCases)
    func midWindowStateRoundTrips(_ algorithm: OnlineAlgorithm) throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.indrnn, 3, .tanh), (.indrnn, 4, .tanh), (.dense, 2, .identity)], loss: .mse)
        let batch = SequenceBatch<Double>(TestData.samples(spec: spec, lengths: [9, 7], seed: 12, targetEvery: 2),
                                          inputSize: 2, outputSize: 2)
        let w = spec.initialParameters(seed: 4).map { $0 * 2 }
        func engine() throws -> OnlineGradient<Double> {
            let e = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 2, rfloDecay: 0.5, noiseSeed: 8)
            e.resetState()
            e.begin(batch, epoch: 1, batchIndex: 2)
            return e
        }
        var g = [Double](repeating: 0, count: w.count)
        let whole = try engine()
        w.withUnsafeBufferPointer { whole.advance(to: 9, parameters: $0) }
        _ = g.withUnsafeMutableBufferPointer { whole.takeGradient(into: $0) }
        let expected = g
        let head = try engine()
        w.withUnsafeBufferPointer { head.advance(to: 5, parameters: $0) }
        let saved = head.exportState()
        let tail = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 2, rfloDecay: 0.5, noiseSeed: 8)
        tail.begin(batch, epoch: 1, batchIndex: 2)
        try tail.restoreState(saved)
        w.withUnsafeBufferPointer { tail.advance(to: 9, parameters: $0) }
        _ = g.withUnsafeMutableBufferPointer { tail.takeGradient(into: $0) }
        #expect(g == expected && expected.contains { $0 != 0 })
    }
}
