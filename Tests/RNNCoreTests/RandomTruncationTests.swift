import Testing
import RNNCore
import RNNTestSupport

/// Random, unbiased truncation (ARTBP, SPEC 3.4, `RandomTruncation`).
@Suite("random truncation (ARTBP)")
struct RandomTruncationTests {
    /// With `c = 1` no truncation is ever drawn: one update per batch, the error divided by the
    /// batch's own element count, nothing scaled: full BPTT bit for bit, over several batches with
    /// Adam, for every recurrent kind.
    @Test(arguments: [LayerKind.rnn, .lstm, .gru, .indrnn])
    func continueOneIsFullBPTTBitForBit(_ kind: LayerKind) {
        let spec = NetworkSpec(inputs: 2, layers: [(kind, 5, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let full = adamParametersAfterFourBatches(spec, .full)
        let random = adamParametersAfterFourBatches(spec, Truncation(random: RandomTruncation(continueProbability: 1, seed: 7)))
        #expect(random.map(\.bitPattern) == full.map(\.bitPattern))
        #expect(full != spec.initialParameters(seed: 2).map { Double(Float($0)) })
    }

    /// The draws are a pure function of (seed, epoch, batch, step), shared by all lanes, with a
    /// truncation at each step with probability `1 − c`; the last step is always an update point.
    @Test func drawsAreAPureFunctionAtTheRightRate() {
        let r = RandomTruncation(continueProbability: 0.8, seed: 3)
        let points = r.updatePoints(steps: 20_000, epoch: 2, batch: 5)
        #expect(points == r.updatePoints(steps: 20_000, epoch: 2, batch: 5))
        #expect(points != r.updatePoints(steps: 20_000, epoch: 2, batch: 6))
        #expect(points != RandomTruncation(continueProbability: 0.8, seed: 4).updatePoints(steps: 20_000, epoch: 2, batch: 5))
        #expect(points.last == 20_000 && points == points.sorted())
        let rate = Double(points.count - 1) / 19_999  // sd of the rate ≈ 0.0028 at this size
        #expect(abs(rate - 0.2) < 0.015, "truncation rate \(rate)")
        #expect(abs(r.normaliser(targetElements: 600, steps: 30) - 100) < 1e-12)
        #expect(RandomTruncation(continueProbability: 0.99, seed: 0).normaliser(targetElements: 600, steps: 30) == 600)
        #expect(RandomTruncation(continueProbability: 1, seed: 0).normaliser(targetElements: 600, steps: 30) == 600)
    }

    /// Unbiased: at fixed weights the mean over `N` draws of a batch's summed update gradients
    /// approaches full BPTT's gradient of the summed loss over `E` (here `N_b / E` times the
    /// one-update full-BPTT gradient), with an error that falls like `1/sqrt(N)`: 16× the draws,
    /// a sixteenth of the mean squared error.
    @Test(arguments: [LayerKind.rnn, .lstm])
    func meanOverDrawsApproachesFullBPTT(_ kind: LayerKind) throws {
        let spec = NetworkSpec(inputs: 2, layers: [(kind, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 5)
        let samples = TestData.samples(spec: spec, lengths: [10, 10], seed: 11)
        let batch = SequenceBatch<Double>(samples, inputSize: 2, outputSize: 3)
        let c = 0.85
        func summedGradient(_ truncation: Truncation) -> [Double] {
            let trainer = TruncatedBPTT<Double>(spec: spec, parameters: weights, truncation: truncation,
                                                optimizer: OptimizerSettings(name: .sgd, lr: 0))
            var sum = [Double](repeating: 0, count: weights.count)
            _ = trainer.train(batch) { e in for i in 0..<sum.count { sum[i] += e.gradients[i] } }
            return sum
        }
        let targets = batch.mask.filter { $0 != 0 }.count
        let random = RandomTruncation(continueProbability: c, seed: 0)
        let scale = Double(targets) / random.normaliser(targetElements: targets, steps: batch.steps)
        let expected = summedGradient(.full).map { $0 * scale }
        func squaredError(draws: Int, offset: UInt64) -> Double {
            var mean = [Double](repeating: 0, count: weights.count)
            for d in 0..<draws {
                let g = summedGradient(Truncation(random: RandomTruncation(continueProbability: c, seed: offset + UInt64(d))))
                for i in 0..<mean.count { mean[i] += g[i] / Double(draws) }
            }
            return zip(mean, expected).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        }
        let norm2 = expected.map { $0 * $0 }.reduce(0, +)
        // The mean squared error of a mean of N independent draws is the variance over N: averaged
        // over independent groups (rare long windows weigh c^-L, so small groups need many).
        let small = (0..<32).map { squaredError(draws: 16, offset: 1_000 * UInt64($0)) }.reduce(0, +) / 32
        let large = (0..<8).map { squaredError(draws: 256, offset: 100_000 + 10_000 * UInt64($0)) }.reduce(0, +) / 8
        let ratio = small / large
        #expect(ratio > 6 && ratio < 40, "mean squared error \(small / norm2) at 16 draws, \(large / norm2) at 256: ratio \(ratio), expected ≈ 16")
        #expect((large / norm2).squareRoot() < 0.1, "mean of 256 draws is \((large / norm2).squareRoot()) from the target")
    }
}

extension RandomTruncationTests {
    /// One draw's updates against the numpy reference (`make_golden.py`'s `artbp` mode, written
    /// from SPEC 3.4 alone), float64, to 1e-12: the same update points (drawn here, handed to the
    /// script), windows, `1/c` crossings and normalisation `E`, on every recurrent kind.
    @Test(arguments: [
        ("rnn + dense-softmax, CE", [(LayerKind.rnn, 4, Activation.tanh), (.dense, 3, .softmax)], Loss.crossEntropy),
        ("lstm + dense-identity, mse", [(.lstm, 3, .tanh), (.dense, 2, .identity)], .mse),
        ("gru, indrnn, dense-sigmoid, BCE", [(.gru, 3, .tanh), (.indrnn, 3, .tanh), (.dense, 2, .sigmoid)], .binaryCrossEntropy),
    ] as [(String, [(LayerKind, Int, Activation)], Loss)])
    func oneDrawMatchesNumpy(_ name: String, _ layers: [(LayerKind, Int, Activation)], _ loss: Loss) throws {
        let spec = NetworkSpec(inputs: 2, layers: layers, loss: loss)
        let weights = spec.initialParameters(seed: 21)
        let samples = TestData.samples(spec: spec, lengths: [14, 11, 13], seed: 8)
        let random = RandomTruncation(continueProbability: 0.7, seed: 4)
        let batch = SequenceBatch<Double>(samples, inputSize: 2, outputSize: spec.outputs)
        let points = random.updatePoints(steps: batch.steps, epoch: 0, batch: 0)
        try #require(points.count >= 3, "\(name): the draw has no truncation to test")
        var json = try referenceCase(spec: spec, weights: weights, samples: samples)
        json["artbp"] = ["continue": random.continueProbability, "points": points] as [String: Any]
        let reference = try #require(runReferenceScript(NumpyReferenceTests.script, case: json)[0] as? [[String: Any]])
        let updates = engineUpdates(spec: spec, weights: weights, samples: samples, truncation: Truncation(random: random))
        try #require(updates.count == reference.count, "\(name): \(updates.count) updates vs numpy \(reference.count)")
        for (u, r) in zip(updates, reference) {
            #expect(u.n == r["n"] as? Int && u.a == u.p + 1)
            #expect(u.elements == r["elements"] as? Int)
            let loss = try #require(r["loss"] as? Double)
            #expect(relativeError(u.loss, loss) < 1e-12, "\(name): loss at n=\(u.n)")
            let grad = try #require(r["grad"] as? [Double])
            let worst = worstRelativeError(u.grad, grad, floor: 1e-12)
            #expect(worst.error < 1e-12, "\(name), n=\(u.n): parameter \(worst.index) engine \(u.grad[worst.index]) vs numpy \(grad[worst.index])")
        }
    }
}
