import Testing
import RNNCore
import RNNTestSupport

/// Truncation semantics against hand-worked expectations (SPEC section 3).
@Suite("Truncation rules")
struct TruncationTests {
    /// BPTT(3, 5) on a lane of 10 steps: updates at 3, 6, 9 and the last step 10; each injects
    /// `(n_prev, n]` and reaches back to `max(1, n - 5 + 1)`.
    @Test func windowsInjectExactlyTheRightSteps() {
        let spec = NetworkSpec(inputs: 1, layers: [(.rnn, 2, .tanh), (.dense, 1, .identity)], loss: .mse)
        let samples = TestData.samples(spec: spec, lengths: [10, 7], seed: 1)
        let updates = engineUpdates(spec: spec, weights: spec.initialParameters(seed: 1), samples: samples,
                                    truncation: Truncation(tauB: 3, tauMax: 5))
        #expect(updates.map(\.n) == [3, 6, 9, 10])
        #expect(updates.map(\.p) == [0, 3, 6, 9])
        #expect(updates.map(\.a) == [1, 2, 5, 6])
        // Lane 2 ends at step 7: it has targets at 1...7 only.
        #expect(updates.map(\.elements) == [6, 6, 3 + 1, 1])
    }

    /// A many-to-one window with no target is skipped: no optimizer step.
    @Test func windowsWithoutTargetsAreSkipped() {
        let spec = NetworkSpec(inputs: 1, layers: [(.rnn, 2, .tanh), (.dense, 1, .identity)], loss: .mse)
        let samples = TestData.samples(spec: spec, lengths: [8], seed: 1, targetEvery: 100)
        let trainer = TruncatedBPTT<Double>(spec: spec, parameters: spec.initialParameters(seed: 1),
                                            truncation: Truncation(tauB: 2, tauMax: 4),
                                            optimizer: OptimizerSettings(name: .sgd, lr: 0.1))
        var steps: [Int] = []
        let r = trainer.train(SequenceBatch(samples, inputSize: 1, outputSize: 1)) { steps.append($0.step) }
        #expect(steps == [8])
        #expect(r.updates == 1)
        #expect(trainer.updates == 1)
    }

    /// tau_max = 1: the only TW term is the local one, dC/dTW = delta_n h_{n-1}; for one identity
    /// unit with mse at every step, delta_n = 2 (h_n - t_n).
    @Test func tauMaxOneGivesOnlyTheLocalTerm() {
        let spec = NetworkSpec(inputs: 1, layers: [(.rnn, 1, .identity)], loss: .mse)
        let w: [Double] = [0.5, 0.8, 0.1]  // SW, TW, b
        let x: [Double] = [1, -1, 2, 0.5]
        let t: [Double] = [0.3, 0.2, -0.4, 1.0]
        let sample = SequenceSample(length: 4, inputs: .dense(x), targets: .values(t), mask: [true, true, true, true])
        let updates = engineUpdates(spec: spec, weights: w, samples: [sample], truncation: Truncation(tauB: 1, tauMax: 1))
        var h = [0.0]
        for n in 1...4 { h.append(w[0] * x[n - 1] + w[1] * h[n - 1] + w[2]) }
        #expect(updates.count == 4)
        for (k, u) in updates.enumerated() {
            let n = k + 1
            let delta = 2 * (h[n] - t[n - 1])
            #expect(relativeError(u.grad[1], delta * h[n - 1], floor: 1e-300) < 1e-14, "dTW at n=\(n)")
            #expect(relativeError(u.grad[0], delta * x[n - 1], floor: 1e-300) < 1e-14, "dSW at n=\(n)")
            #expect(relativeError(u.grad[2], delta, floor: 1e-300) < 1e-14, "db at n=\(n)")
        }
    }

    /// With tau_max >= length and one update per sequence, truncated BPTT is full BPTT bit for bit,
    /// over several batches and optimizer steps.
    @Test(arguments: [(nil, nil), (12, 12), (12, 30), (30, 30), (30, nil)] as [(Int?, Int?)])
    func longWindowsAreFullBPTTBitForBit(_ tb: Int?, _ tm: Int?) {
        let spec = NetworkSpec(inputs: 2, layers: [(.rnn, 5, .tanh), (.rnn, 3, .relu), (.dense, 3, .softmax)],
                               loss: .crossEntropy)
        func run(_ truncation: Truncation) -> [Double] { adamParametersAfterFourBatches(spec, truncation) }
        let full = run(.full)
        let other = run(Truncation(tauB: tb, tauMax: tm))
        #expect(full == other)
        #expect(full != spec.initialParameters(seed: 2).map { Double(Float($0)) })
    }

    @Test func configurationProblems() {
        #expect(Truncation(tauB: 5, tauMax: 3).problem != nil)
        #expect(Truncation(tauB: 0, tauMax: 3).problem != nil)
        #expect(Truncation(tauB: 3, tauMax: 3).problem == nil)
        #expect(Truncation(tauB: 3, tauMax: nil).problem == nil)
        #expect(Truncation(tauB: nil, tauMax: 7).resolved(steps: 20) == (7, 7))
        #expect(Truncation(tauB: nil, tauMax: nil).resolved(steps: 20) == (20, 20))
        #expect(Truncation(tauB: 4, tauMax: nil).resolved(steps: 20) == (4, 20))
    }

    /// An update that leaves a weight infinite or NaN (after a finite loss and gradient norm) is
    /// reported by the weight check, in float32 and float64.
    @Test func nonFiniteWeightIsReported() {
        let spec = NetworkSpec(inputs: 1, layers: [(.rnn, 5, .tanh), (.dense, 1, .identity)], loss: .mse)
        func divergence<S: RNNScalar>(_ type: S.Type) -> String? {
            let trainer = TruncatedBPTT<S>(spec: spec, parameters: spec.initialParameters(seed: 3), truncation: .full,
                                           optimizer: OptimizerSettings(name: .sgd, lr: .infinity))
            let batch = SequenceBatch<S>(TestData.samples(spec: spec, lengths: [9, 9], seed: 1), inputSize: 1, outputSize: 1)
            return trainer.train(batch).divergence
        }
        for d in [divergence(Float.self), divergence(Double.self)] {
            #expect(d?.contains("a weight became NaN or infinite") == true, "\(d ?? "no divergence")")
        }
    }

    /// A learning rate that explodes is reported as a value, not a crash.
    @Test func divergenceIsReported() {
        let spec = NetworkSpec(inputs: 1, layers: [(.rnn, 4, .relu), (.dense, 1, .identity)], loss: .mse)
        let trainer = TruncatedBPTT<Float>(spec: spec, parameters: spec.initialParameters(seed: 3),
                                           truncation: .full, optimizer: OptimizerSettings(name: .sgd, lr: 1e6))
        var diverged: String? = nil
        for seed in 0..<20 as Range<UInt64> where diverged == nil {
            let batch = SequenceBatch<Float>(TestData.samples(spec: spec, lengths: [30, 30], seed: seed),
                                             inputSize: 1, outputSize: 1)
            diverged = trainer.train(batch).divergence
        }
        #expect(diverged != nil)
    }
}
