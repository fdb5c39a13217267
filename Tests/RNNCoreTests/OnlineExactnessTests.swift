import Foundation
import Testing
@testable import RNNCore
import RNNTestSupport

/// The exact cases of SPEC 3.3, each against an independent computation (float64 unless said).
@Suite("online: exact cases")
struct OnlineExactnessTests {
    // MARK: rtrl = BPTT

    static let bpttSpecs: [(String, NetworkSpec)] = [
        ("rnn, dense, rnn, dense-softmax, CE", NetworkSpec(inputs: 2, layers: [(.rnn, 3, .tanh), (.dense, 3, .tanh), (.rnn, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)),
        ("rnn, rnn-relu, dense-identity, mse", NetworkSpec(inputs: 2, layers: [(.rnn, 3, .tanh), (.rnn, 3, .relu), (.dense, 2, .identity)], loss: .mse)),
        ("lstm, dense-softmax, CE", NetworkSpec(inputs: 2, layers: [(.lstm, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)),
        ("gru, dense-identity, mse", NetworkSpec(inputs: 2, layers: [(.gru, 4, .tanh), (.dense, 2, .identity)], loss: .mse)),
        ("lstm, gru, dense-sigmoid, BCE", NetworkSpec(inputs: 2, layers: [(.lstm, 3, .tanh), (.gru, 3, .tanh), (.dense, 2, .sigmoid)], loss: .binaryCrossEntropy)),
    ]

    /// rtrl with one update per sequence equals the existing engine's full BPTT gradient; with
    /// `tau_b = 3` and fixed weights (lr 0) every update equals BPTT(3, full) (the influence is
    /// not reset at an update).
    @Test(arguments: bpttSpecs.indices)
    func rtrlEqualsFullBPTT(_ index: Int) throws {
        let (name, spec) = Self.bpttSpecs[index]
        let weights = spec.initialParameters(seed: 11).map { $0 * 2 }
        let samples = TestData.samples(spec: spec, lengths: [10, 7, 9], seed: 3, targetEvery: 2)
        let bptt = engineUpdates(spec: spec, weights: weights, samples: samples, truncation: .full)
        let ours = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: weights, samples: samples, tauB: 0)
        try #require(bptt.count == 1 && ours.updates.count == 1)
        let rel = normRelative(ours.updates[0].grad, bptt[0].grad)
        print("online agreement: rtrl vs full BPTT, \(name): \(rel)")
        #expect(rel < 1e-12, "\(name): \(rel)")
        #expect(relativeError(ours.updates[0].loss, bptt[0].loss) < 1e-13)

        let windowed = engineUpdates(spec: spec, weights: weights, samples: samples, truncation: Truncation(tauB: 3, tauMax: nil))
        let ours3 = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: weights, samples: samples, tauB: 3)
        try #require(windowed.count == ours3.updates.count)
        var worst = 0.0
        for (a, b) in zip(ours3.updates, windowed) {
            #expect(a.n == b.n && a.elements == b.elements)
            worst = max(worst, normRelative(a.grad, b.grad))
        }
        print("online agreement: rtrl tau_b 3 lr 0 vs BPTT(3, full), \(name): \(worst)")
        #expect(worst < 1e-12, "\(name) tau_b 3: \(worst)")
    }

    // MARK: snap1 = rtrl when TW is diagonal

    /// Keeps only the diagonal of every `W_t` gate block of layer `l` (scaled by 2).
    static func diagonalTW(_ spec: NetworkSpec, _ weights: [Double], layer l: Int) -> [Double] {
        var w = weights
        let e = ParameterLayout(spec).entries[l]
        let u = spec.layers[l].units
        for r in 0..<(spec.layers[l].kind.gates * u) {
            for j in 0..<u { w[e.tw! + r * u + j] = j == r % u ? 2 * w[e.tw! + r * u + j] : 0 }
        }
        return w
    }

    @Test(arguments: [LayerKind.rnn, .lstm, .gru])
    func snap1EqualsRTRLWithDiagonalTW(_ kind: LayerKind) throws {
        let spec = NetworkSpec(inputs: 2, layers: [(kind, 4, .tanh), (.dense, 2, .identity)], loss: .mse)
        let full = spec.initialParameters(seed: 12).map { $0 * 2 }
        let diag = Self.diagonalTW(spec, full, layer: 0)
        let samples = TestData.samples(spec: spec, lengths: [8, 6, 7], seed: 5, targetEvery: 2)
        func compare(_ w: [Double]) throws -> Double {
            let a = try onlineUpdates(Double.self, spec: spec, algorithm: .snap1, weights: w, samples: samples, tauB: 2).updates
            let b = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: w, samples: samples, tauB: 2).updates
            return zip(a, b).map { normRelative($0.grad, $1.grad) }.max() ?? .infinity
        }
        let rDiag = try compare(diag), rFull = try compare(full)
        print("online agreement: snap1 vs rtrl, \(kind.rawValue), diagonal TW: \(rDiag); full TW (must differ): \(rFull)")
        #expect(rDiag < 1e-12)
        #expect(rFull > 1e-3, "non-vacuity: with a full TW snap1 is an approximation")
    }

    // MARK: rflo(0) = BPTT(1, 1) over an SGD run

    @Test func rfloEqualsBPTTOneOneOverSGD() throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.rnn, 3, .tanh), (.dense, 3, .tanh), (.rnn, 4, .tanh), (.dense, 3, .softmax)],
                               loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 13).map { $0 * 2 }
        let samples = TestData.samples(spec: spec, lengths: [9, 6, 8], seed: 6, targetEvery: 1)
        let trainer = TruncatedBPTT<Double>(spec: spec, parameters: weights, truncation: Truncation(tauB: 1, tauMax: 1),
                                            optimizer: OptimizerSettings(name: .sgd, lr: 0.3))
        var bpttGrads: [[Double]] = []
        _ = trainer.train(SequenceBatch<Double>(samples, inputSize: 2, outputSize: 3)) { bpttGrads.append(Array($0.gradients)) }
        let ours = try onlineUpdates(Double.self, spec: spec, algorithm: .rflo, weights: weights, samples: samples, tauB: 1, lr: 0.3)
        try #require(ours.updates.count == bpttGrads.count && bpttGrads.count == 9)
        let worst = zip(ours.updates, bpttGrads).map { normRelative($0.grad, $1) }.max()!
        let final = normRelative(ours.weights, trainer.parameters)
        print("online agreement: rflo(0) vs BPTT(1,1), 9 SGD updates: gradients \(worst), final weights \(final)")
        #expect(worst < 1e-12)
        #expect(final < 1e-13)
    }

    // MARK: uoro is unbiased

    /// The mean of k UORO estimates (one batch of k copies of the lanes: each lane its own noise)
    /// approaches rtrl's gradient at the 1/sqrt(k) rate: the rms error over 16 groups at k = 64
    /// is about 4 times that at k = 1024.
    @Test func uoroMeanApproachesRTRL() throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.rnn, 3, .tanh), (.dense, 2, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 14).map { $0 * 2 }
        let base = TestData.samples(spec: spec, lengths: [5, 4], seed: 7, targetEvery: 1)
        let exact = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: weights, samples: base, tauB: 0).updates[0].grad
        func rms(_ k: Int) throws -> Double {
            try meanEstimateRMS(.uoro, spec: spec, weights: weights, base: base, exact: exact, copies: k, seed: 2024)
        }
        let small = try rms(64), large = try rms(1024)
        print("online agreement: uoro mean vs rtrl, rms rel error k=64 \(small), k=1024 \(large), ratio \(small / large) (expect 4)")
        #expect(small / large > 2.5 && small / large < 6.5)
        #expect(large < 0.2)
    }

    // MARK: rtrl against central differences

    static let fdSpecs: [(String, NetworkSpec)] = [
        ("rnn, dense, rnn, dense-softmax, CE", NetworkSpec(inputs: 2, layers: [(.rnn, 3, .tanh), (.dense, 2, .tanh), (.rnn, 3, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)),
        ("lstm, gru, dense-identity, mse", NetworkSpec(inputs: 2, layers: [(.lstm, 2, .tanh), (.gru, 3, .tanh), (.dense, 2, .identity)], loss: .mse)),
    ]

    /// Every update's gradient (tau_b 3, weights fixed) against central differences of that
    /// update's window loss.
    @Test(arguments: fdSpecs.indices)
    func rtrlMatchesFiniteDifferences(_ index: Int) throws {
        let (name, spec) = Self.fdSpecs[index]
        let weights = spec.initialParameters(seed: 15).map { $0 * 2 }
        let samples = TestData.samples(spec: spec, lengths: [7, 5], seed: 8, targetEvery: 2)
        let ours = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: weights, samples: samples, tauB: 3).updates
        func losses(_ w: [Double]) throws -> [Double] {
            try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: w, samples: samples, tauB: 3).updates.map(\.loss)
        }
        let eps = 1e-5
        var fd = [[Double]](repeating: [Double](repeating: 0, count: weights.count), count: ours.count)
        for i in 0..<weights.count {
            var wp = weights, wm = weights
            wp[i] += eps
            wm[i] -= eps
            let lp = try losses(wp), lm = try losses(wm)
            for u in 0..<ours.count { fd[u][i] = (lp[u] - lm[u]) / (2 * eps) }
        }
        var worst = 0.0
        for (u, f) in zip(ours, fd) {
            let scale = f.map(abs).max()!
            worst = max(worst, zip(u.grad, f).map { abs($0 - $1) }.max()! / scale)
        }
        print("online agreement: rtrl vs central differences, \(name), \(ours.count) updates: \(worst)")
        #expect(worst < 1e-7)
    }

    // MARK: float32 against float64

    @Test(arguments: OnlineAlgorithm.allCases)
    func float32AgreesWithFloat64(_ algorithm: OnlineAlgorithm) throws {
        let layers: [(LayerKind, Int, Activation)] = algorithm.isPlainLayersOnly
            ? [(.rnn, 4, .tanh), (.rnn, 3, .tanh), (.dense, 3, .softmax)]
            : [(.lstm, 4, .tanh), (.gru, 3, .tanh), (.dense, 3, .softmax)]
        let spec = NetworkSpec(inputs: 2, layers: layers, loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 16)
        let samples = TestData.samples(spec: spec, lengths: [9, 7, 8], seed: 9, targetEvery: 1)
        let a = try onlineUpdates(Float.self, spec: spec, algorithm: algorithm, weights: weights, samples: samples,
                                  tauB: 2, lr: 0.1, seed: 3)
        let b = try onlineUpdates(Double.self, spec: spec, algorithm: algorithm, weights: weights, samples: samples,
                                  tauB: 2, lr: 0.1, seed: 3)
        try #require(a.updates.count == b.updates.count)
        let worst = zip(a.updates, b.updates).map { normRelative($0.grad, $1.grad) }.max()!
        let loss = zip(a.updates, b.updates).map { relativeError($0.loss, $1.loss) }.max()!
        print("online agreement: float32 vs float64, \(algorithm.rawValue): gradient \(worst), loss \(loss)")
        #expect(worst < 1e-4)
        #expect(loss < 1e-5)
    }

    // MARK: Errors, resets

    @Test func rfloOnGatedLayerIsAnError() {
        for kind in [LayerKind.lstm, .gru] {
            let spec = NetworkSpec(inputs: 2, layers: [(.rnn, 3, .tanh), (kind, 3, .tanh), (.dense, 2, .identity)], loss: .mse)
            #expect(throws: OnlineGradientError.self) { try OnlineGradient<Double>(spec: spec, algorithm: .rflo, lanes: 2) }
            #expect((try? OnlineGradient<Double>(spec: spec, algorithm: .snap1, lanes: 2)) != nil)
        }
        let dense = NetworkSpec(inputs: 2, layers: [(.dense, 3, .tanh), (.dense, 2, .identity)], loss: .mse)
        #expect(throws: OnlineGradientError.self) { try OnlineGradient<Double>(spec: dense, algorithm: .rtrl, lanes: 2) }
    }

    /// `resetState` zeroes state and influence: the same batch twice, reset in between, gives the
    /// same updates; without the reset (a stream) it does not.
    @Test(arguments: OnlineAlgorithm.allCases)
    func resetStartsFromZero(_ algorithm: OnlineAlgorithm) throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.rnn, 3, .tanh), (.dense, 2, .identity)], loss: .mse)
        let samples = TestData.samples(spec: spec, lengths: [6, 5], seed: 10)
        let batch = SequenceBatch<Double>(samples, inputSize: 2, outputSize: 2)
        let engine = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 2)
        var w = spec.initialParameters(seed: 1)
        engine.resetState()
        let first = driveOnline(engine, batch: batch, weights: &w, tauB: 2, lr: 0)
        let carried = driveOnline(engine, batch: batch, weights: &w, tauB: 2, lr: 0)
        engine.resetState()
        let again = driveOnline(engine, batch: batch, weights: &w, tauB: 2, lr: 0)
        #expect(zip(first, again).allSatisfy { $0.grad == $1.grad && $0.loss == $1.loss })
        #expect(normRelative(carried[0].grad, first[0].grad) > 1e-6)
    }

    /// A checkpoint inside a batch (inside an update window) resumes bit-identically: a fresh
    /// engine that `begin`s the same batch and restores the exported state gives exactly the
    /// uninterrupted run's remaining updates.
    @Test(arguments: OnlineAlgorithm.allCases)
    func midBatchCheckpointResumesBitIdentically(_ algorithm: OnlineAlgorithm) throws {
        let layers: [(LayerKind, Int, Activation)] = algorithm.isPlainLayersOnly
            ? [(.rnn, 3, .tanh), (.dense, 2, .tanh), (.rnn, 3, .tanh), (.dense, 2, .identity)]
            : [(.gru, 3, .tanh), (.lstm, 2, .tanh), (.dense, 2, .identity)]
        let spec = NetworkSpec(inputs: 2, layers: layers, loss: .mse)
        let batch = SequenceBatch<Double>(TestData.samples(spec: spec, lengths: [9, 7, 8], seed: 12, targetEvery: 2),
                                          inputSize: 2, outputSize: 2)
        let w = spec.initialParameters(seed: 4).map { $0 * 2 }
        func run(from engine: OnlineGradient<Double>, stopAt: Int?) -> ([[Double]], OnlineState?) {
            var grads: [[Double]] = []
            var g = [Double](repeating: 0, count: w.count)
            var weights = w
            for n in stride(from: 4, through: 8, by: 4) + [9] where n > engine.step {
                if let stop = stopAt, stop < n {
                    weights.withUnsafeBufferPointer { engine.advance(to: stop, parameters: $0) }
                    return (grads, engine.exportState())
                }
                weights.withUnsafeBufferPointer { engine.advance(to: n, parameters: $0) }
                _ = g.withUnsafeMutableBufferPointer { engine.takeGradient(into: $0) }
                grads.append(g)
                for i in 0..<weights.count { weights[i] -= 0.3 * g[i] }
            }
            return (grads, nil)
        }
        let whole = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 3, noiseSeed: 8)
        whole.resetState()
        whole.begin(batch, epoch: 2, batchIndex: 5)
        let (all, _) = run(from: whole, stopAt: nil)
        #expect(all.count == 3)
        // Stop at step 6, inside the window (4, 8].
        let a = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 3, noiseSeed: 8)
        a.resetState()
        a.begin(batch, epoch: 2, batchIndex: 5)
        let (head, saved) = run(from: a, stopAt: 6)
        let state = try #require(saved)
        #expect(state.step == 6 && state.pendingElements > 0)
        let b = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 3, noiseSeed: 8)
        b.begin(batch, epoch: 2, batchIndex: 5)
        try b.restoreState(state)
        // The weights after the first update, as the run had them.
        var weights = w
        for i in 0..<weights.count { weights[i] -= 0.3 * head[0][i] }
        var g = [Double](repeating: 0, count: w.count)
        var tail: [[Double]] = []
        for n in [8, 9] {
            weights.withUnsafeBufferPointer { b.advance(to: n, parameters: $0) }
            _ = g.withUnsafeMutableBufferPointer { b.takeGradient(into: $0) }
            tail.append(g)
            for i in 0..<weights.count { weights[i] -= 0.3 * g[i] }
        }
        #expect(head + tail == all, "resumed run differs")
    }

    /// A smaller batch (a dataset's last one) runs in an engine sized for more lanes and gives
    /// what a fresh engine of its size gives.
    @Test(arguments: OnlineAlgorithm.allCases)
    func smallerBatchInALargerEngine(_ algorithm: OnlineAlgorithm) throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.rnn, 3, .tanh), (.rnn, 3, .tanh), (.dense, 2, .identity)], loss: .mse)
        let w0 = spec.initialParameters(seed: 2).map { $0 * 2 }
        let big = SequenceBatch<Double>(TestData.samples(spec: spec, lengths: [6, 5, 6], seed: 1), inputSize: 2, outputSize: 2)
        let small = SequenceBatch<Double>(TestData.samples(spec: spec, lengths: [5, 4], seed: 2), inputSize: 2, outputSize: 2)
        let engine = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 3, noiseSeed: 1)
        var w = w0
        engine.resetState()
        _ = driveOnline(engine, batch: big, weights: &w, tauB: 2, lr: 0, batchIndex: 0)
        let shared = driveOnline(engine, batch: small, weights: &w, tauB: 2, lr: 0, batchIndex: 1)
        let fresh = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 2, noiseSeed: 1)
        fresh.resetState()
        var w2 = w0
        let alone = driveOnline(fresh, batch: small, weights: &w2, tauB: 2, lr: 0, batchIndex: 1)
        #expect(engine.lanes == 2 && engine.laneCapacity == 3)
        #expect(shared.map(\.grad) == alone.map(\.grad))
    }

    /// One-hot inputs give what the same inputs as dense vectors give; with one-hot inputs most
    /// input columns are 0 at every step, and snap1's structural pattern keeps their carried
    /// entries (snap1 = rtrl with diagonal TW still holds).
    @Test(arguments: OnlineAlgorithm.allCases)
    func oneHotInputsEqualDenseInputs(_ algorithm: OnlineAlgorithm) throws {
        let spec = NetworkSpec(inputs: 4, layers: [(.rnn, 3, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let hot = TestData.samples(spec: spec, lengths: [7, 5], seed: 3, oneHot: true)
        let dense = hot.map { s -> SequenceSample in
            guard case .oneHot(let idx) = s.inputs else { fatalError() }
            var x = [Double](repeating: 0, count: s.length * 4)
            for (n, k) in idx.enumerated() { x[n * 4 + Int(k)] = 1 }
            return SequenceSample(length: s.length, inputs: .dense(x), targets: s.targets, mask: s.mask)
        }
        let w = Self.diagonalTW(spec, spec.initialParameters(seed: 3).map { $0 * 2 }, layer: 0)
        let a = try onlineUpdates(Double.self, spec: spec, algorithm: algorithm, weights: w, samples: hot, tauB: 2, lr: 0.2, seed: 5)
        let b = try onlineUpdates(Double.self, spec: spec, algorithm: algorithm, weights: w, samples: dense, tauB: 2, lr: 0.2, seed: 5)
        #expect(a.updates.map(\.grad) == b.updates.map(\.grad))
        if algorithm == .snap1 {
            let r = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: w, samples: hot, tauB: 0).updates[0].grad
            let s = try onlineUpdates(Double.self, spec: spec, algorithm: .snap1, weights: w, samples: hot, tauB: 0).updates[0].grad
            #expect(normRelative(s, r) < 1e-12)
        }
    }
}
