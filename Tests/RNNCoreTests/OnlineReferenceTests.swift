import Foundation
import Testing
@testable import RNNCore
import RNNTestSupport

/// The online engine against the independent numpy reference (`Tests/Reference/online_reference.py`,
/// written from SPEC 3.3 alone): every update's loss and gradient, with plain SGD between
/// updates, float64, to 1e-10.
@Suite("online: numpy reference")
struct OnlineReferenceTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let algorithm: OnlineAlgorithm
        let inputs: Int
        let layers: [(LayerKind, Int, Activation)]
        let loss: Loss
        let lengths: [Int]
        let targetEvery: Int
        let tauB: Int   // 0: one update per sequence
        let lr: Double
        var rfloDecay = 0.0
        var testDescription: String { "\(algorithm.rawValue): \(id)" }
    }

    /// Every algorithm: the reference reads uoro's noise and kf-rtrl's signs from the case.
    static let referenced = OnlineAlgorithm.allCases

    static let rnnStack: [(LayerKind, Int, Activation)] = [(.rnn, 3, .tanh), (.dense, 3, .tanh), (.rnn, 4, .tanh), (.dense, 3, .softmax)]

    static let cases: [Case] = {
        var out: [Case] = []
        for alg in Self.referenced {
            out.append(Case(id: "rnn, dense, rnn, dense-softmax, CE, ragged, holes, tau_b 2, lr 0.3", algorithm: alg,
                            inputs: 2, layers: rnnStack, loss: .crossEntropy, lengths: [9, 6, 8], targetEvery: 2,
                            tauB: 2, lr: 0.3))
            out.append(Case(id: "rnn, rnn-sigmoid (recurrent top), BCE, ragged, one update", algorithm: alg,
                            inputs: 2, layers: [(.rnn, 3, .tanh), (.rnn, 2, .sigmoid)], loss: .binaryCrossEntropy,
                            lengths: [7, 5], targetEvery: 1, tauB: 0, lr: 0))
            out.append(Case(id: "dense-relu, rnn, rnn, dense-identity, mse, tau_b 1, lr 0.2", algorithm: alg,
                            inputs: 3, layers: [(.dense, 3, .relu), (.rnn, 3, .tanh), (.rnn, 3, .sigmoid), (.dense, 2, .identity)],
                            loss: .mse, lengths: [6, 6], targetEvery: 1, tauB: 1, lr: 0.2))
            if alg.isPlainLayersOnly { continue }
            out.append(Case(id: "lstm, dense-identity, mse, ragged, holes, tau_b 1, lr 0.2", algorithm: alg,
                            inputs: 2, layers: [(.lstm, 3, .tanh), (.dense, 2, .identity)], loss: .mse,
                            lengths: [8, 5, 7], targetEvery: 2, tauB: 1, lr: 0.2))
            out.append(Case(id: "gru, dense-softmax, CE, ragged, tau_b 3, lr 0.5", algorithm: alg,
                            inputs: 2, layers: [(.gru, 3, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy,
                            lengths: [9, 7, 8], targetEvery: 1, tauB: 3, lr: 0.5))
            out.append(Case(id: "gru, dense-tanh, lstm, dense-identity, mse, holes, tau_b 2, lr 0.1", algorithm: alg,
                            inputs: 2, layers: [(.gru, 3, .tanh), (.dense, 2, .tanh), (.lstm, 2, .tanh), (.dense, 2, .identity)],
                            loss: .mse, lengths: [7, 6], targetEvery: 3, tauB: 2, lr: 0.1))
            out.append(Case(id: "lstm, lstm (gated top), mse, one update", algorithm: alg,
                            inputs: 2, layers: [(.lstm, 3, .tanh), (.lstm, 2, .tanh)], loss: .mse,
                            lengths: [6, 6], targetEvery: 1, tauB: 0, lr: 0))
        }
        // indrnn (element-wise recurrence, SPEC 3.5) under every algorithm.
        for alg in OnlineAlgorithm.allCases {
            out.append(Case(id: "indrnn, dense-softmax, CE, ragged, holes, tau_b 2, lr 0.3", algorithm: alg,
                            inputs: 3, layers: [(.indrnn, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy,
                            lengths: [9, 6, 8], targetEvery: 2, tauB: 2, lr: 0.3))
            out.append(Case(id: "rnn, indrnn-relu, dense-identity, mse, tau_b 1, lr 0.2", algorithm: alg,
                            inputs: 2, layers: [(.rnn, 3, .tanh), (.indrnn, 4, .relu), (.dense, 2, .identity)], loss: .mse,
                            lengths: [7, 7], targetEvery: 1, tauB: 1, lr: 0.2))
            out.append(Case(id: "indrnn, indrnn-sigmoid (recurrent top), BCE, ragged, one update", algorithm: alg,
                            inputs: 2, layers: [(.indrnn, 3, .tanh), (.indrnn, 2, .sigmoid)], loss: .binaryCrossEntropy,
                            lengths: [8, 5], targetEvery: 1, tauB: 0, lr: 0))
        }
        out.append(Case(id: "indrnn, dense-identity, mse, lambda 0.6, tau_b 2, lr 0.2", algorithm: .rflo,
                        inputs: 2, layers: [(.indrnn, 4, .tanh), (.dense, 2, .identity)], loss: .mse,
                        lengths: [8, 6, 7], targetEvery: 1, tauB: 2, lr: 0.2, rfloDecay: 0.6))
        out.append(Case(id: "rnn, dense-identity, mse, lambda 0.6, tau_b 2, lr 0.2", algorithm: .rflo,
                        inputs: 2, layers: [(.rnn, 4, .tanh), (.dense, 2, .identity)], loss: .mse,
                        lengths: [8, 6, 7], targetEvery: 1, tauB: 2, lr: 0.2, rfloDecay: 0.6))
        return out
    }()

    @Test(arguments: cases)
    func matchesNumpy(_ c: Case) throws {
        let spec = NetworkSpec(inputs: c.inputs, layers: c.layers, loss: c.loss)
        // Larger weights than the default initialisation, so that every term matters.
        let weights = spec.initialParameters(seed: 31).map { $0 * 2.5 }
        let samples = TestData.samples(spec: spec, lengths: c.lengths, seed: 17, targetEvery: c.targetEvery)
        let seed: UInt64 = 77
        let ours = try onlineUpdates(Double.self, spec: spec, algorithm: c.algorithm, weights: weights, samples: samples,
                                     tauB: c.tauB, lr: c.lr, rfloDecay: c.rfloDecay, seed: seed, batchIndex: 3)
        var json = try referenceCase(spec: spec, weights: weights, samples: samples)
        json["algorithm"] = c.algorithm.rawValue
        json["tau_b"] = c.tauB
        json["lr"] = c.lr
        json["rflo_decay"] = c.rfloDecay
        if c.algorithm == .uoro {
            json["noise"] = noiseArray(seed: seed, batchIndex: 3, steps: c.lengths.max()!, lanes: c.lengths.count,
                                       size: stackedState(spec))
        }
        if c.algorithm == .kfRTRL {
            json["kf_noise"] = kroneckerSigns(spec, seed: seed, batchIndex: 3, steps: c.lengths.max()!, lanes: c.lengths.count)
        }
        let reference = try OnlineReference.run(json).updates
        expectSameUpdates(ours.updates, reference, tolerance: 1e-10, c.testDescription)
    }

    /// A stream cut into two batches: state, influence and the pending window carry across the
    /// calls (the second piece also through `exportState` / `restoreState` into a fresh engine),
    /// equal to the reference's single call over all steps.
    @Test(arguments: referenced)
    func streamCarriesAcrossCalls(_ algorithm: OnlineAlgorithm) throws {
        let layers: [(LayerKind, Int, Activation)] = algorithm.isPlainLayersOnly
            ? [(.rnn, 3, .tanh), (.rnn, 3, .tanh), (.dense, 2, .sigmoid)]
            : [(.lstm, 2, .tanh), (.rnn, 3, .tanh), (.dense, 2, .sigmoid)]
        let spec = NetworkSpec(inputs: 2, layers: layers, loss: .binaryCrossEntropy)
        let weights = spec.initialParameters(seed: 5).map { $0 * 2 }
        let whole = TestData.samples(spec: spec, lengths: [10, 10, 10], seed: 4, targetEvery: 2)
        func piece(_ range: Range<Int>) -> [SequenceSample] {
            whole.map { s in
                guard case .dense(let x) = s.inputs, case .values(let y) = s.targets else { fatalError() }
                return SequenceSample(length: range.count, inputs: .dense(Array(x[(range.lowerBound * 2)..<(range.upperBound * 2)])),
                                      targets: .values(Array(y[(range.lowerBound * 2)..<(range.upperBound * 2)])),
                                      mask: Array(s.mask[range]))
            }
        }
        let seed: UInt64 = 9, tauB = 3, lr = 0.2
        // Ours: two batches (batch indices 0 and 1), the second after a checkpoint round trip.
        var w = weights
        let first = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 3, noiseSeed: seed)
        first.resetState()
        var ours = driveOnline(first, batch: SequenceBatch<Double>(piece(0..<5), inputSize: 2, outputSize: 2),
                               weights: &w, tauB: tauB, lr: lr, offset: 0, stream: true, batchIndex: 0)
        let saved = first.exportState()
        #expect(saved.pendingElements > 0, "the cut falls inside a window")
        #expect(saved.influence.count == first.influenceScalars)
        #expect(first.influenceScalars == OnlineGradient<Double>.influenceScalars(spec: spec, algorithm: algorithm, lanes: 3))
        let data = try JSONEncoder().encode(saved)
        let second = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 3, noiseSeed: seed)
        try second.restoreState(try JSONDecoder().decode(OnlineState.self, from: data))
        #expect(second.exportState() == saved)
        ours += driveOnline(second, batch: SequenceBatch<Double>(piece(5..<10), inputSize: 2, outputSize: 2),
                            weights: &w, tauB: tauB, lr: lr, offset: 5, stream: false, batchIndex: 1)
        // Reference: one call over the 10 steps with the two batches' noise concatenated.
        var json = try referenceCase(spec: spec, weights: weights, samples: whole)
        json["algorithm"] = algorithm.rawValue
        json["tau_b"] = tauB
        json["lr"] = lr
        if algorithm == .uoro {
            let s = stackedState(spec)
            json["noise"] = noiseArray(seed: seed, batchIndex: 0, steps: 5, lanes: 3, size: s)
                + noiseArray(seed: seed, batchIndex: 1, steps: 5, lanes: 3, size: s)
        }
        if algorithm == .kfRTRL {
            json["kf_noise"] = kroneckerSigns(spec, seed: seed, batchIndex: 0, steps: 5, lanes: 3)
                + kroneckerSigns(spec, seed: seed, batchIndex: 1, steps: 5, lanes: 3)
        }
        let reference = try OnlineReference.run(json).updates
        #expect(reference.map(\.n) == [3, 6, 9, 10])
        expectSameUpdates(ours, reference, tolerance: 1e-10, "stream \(algorithm.rawValue)")
    }

    /// rtrl with tau_b = 2 and SGD (lr 0.5) is not SPEC 3's BPTT: it equals BPTT over the stored
    /// trajectory with the weights each step was computed with (the reference's
    /// `bptt_stepweights` oracle), and differs from SPEC 3's BPTT(2, full) after the first update.
    @Test(arguments: [0, 1, 2])
    func rtrlEqualsBPTTWithEachStepsWeights(_ index: Int) throws {
        let stacks: [[(LayerKind, Int, Activation)]] = [
            [(.rnn, 3, .tanh), (.dense, 3, .tanh), (.rnn, 3, .tanh), (.dense, 3, .softmax)],
            [(.lstm, 3, .tanh), (.dense, 3, .softmax)],
            [(.gru, 3, .tanh), (.dense, 3, .softmax)],
        ]
        let spec = NetworkSpec(inputs: 2, layers: stacks[index], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 41).map { $0 * 2 }
        let samples = TestData.samples(spec: spec, lengths: [8, 6, 7], seed: 2, targetEvery: 1)
        let ours = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: weights, samples: samples,
                                     tauB: 2, lr: 0.5).updates
        var json = try referenceCase(spec: spec, weights: weights, samples: samples)
        json["tau_b"] = 2
        json["lr"] = 0.5
        json["algorithm"] = "bptt_stepweights"
        let stepWeights = try OnlineReference.run(json).updates
        expectSameUpdates(ours, stepWeights, tolerance: 1e-10, "rtrl lr 0.5 vs bptt_stepweights, stack \(index)")
        json["algorithm"] = "bptt"
        let spec3 = try OnlineReference.run(json).updates
        #expect(normRelative(ours[0].grad, spec3[0].grad) < 1e-12, "the first update is SPEC 3's")
        let later = zip(ours.dropFirst(), spec3.dropFirst()).map { normRelative($0.grad, $1.grad) }.min() ?? 0
        print("online agreement: rtrl lr 0.5 vs SPEC 3 BPTT(2, full) after the first update: min difference \(later)")
        #expect(later > 1e-6, "non-vacuity: SPEC 3's BPTT uses the current weights for every step")
    }
}
