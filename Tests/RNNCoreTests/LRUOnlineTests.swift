import Foundation
import Testing
@testable import RNNCore
import RNNTestSupport

/// The online algorithms on `lru` layers (SPEC 2, 3.5): within one lru layer the exact influence
/// is element-wise (complex), so `snap1` carries it exactly; `rtrl` stays exact over the whole
/// stack; `uoro` covers the lru's state `[Re s; Im s]` in its noise. Each case against an
/// independent computation: the BPTT engine (`LRULayer.backward`), the numpy reference
/// (`Tests/Reference/online_reference.py`), float64 against float32.
@Suite("online: lru layers")
struct LRUOnlineTests {
    /// A stack given as `(kind, units, activation, lru state size)`, inputs chained.
    static func stack(inputs: Int, _ layers: [(LayerKind, Int, Activation, Int?)], loss: Loss) -> NetworkSpec {
        var specs: [LayerSpec] = [], previous = inputs
        for (kind, units, activation, state) in layers {
            specs.append(LayerSpec(kind: kind, inputs: previous, units: units, activation: activation, state: state))
            previous = units
        }
        return NetworkSpec(layers: specs, loss: loss)
    }

    struct Single: CustomTestStringConvertible, Sendable {
        let id: String
        let spec: NetworkSpec
        var testDescription: String { id }
    }

    /// One lru layer, with and without its skip `D`, under a dense readout or alone.
    static let singles: [Single] = [
        Single(id: "lru(4, S 6) + dense-softmax, CE",
               spec: stack(inputs: 3, [(.lru, 4, .identity, 6), (.dense, 3, .softmax, nil)], loss: .crossEntropy)),
        Single(id: "lru(3, S 5, D) + dense-tanh, mse",
               spec: stack(inputs: 3, [(.lru, 3, .identity, 5), (.dense, 2, .tanh, nil)], loss: .mse)),
        Single(id: "lru(2, S 3, D) alone, mse",
               spec: stack(inputs: 2, [(.lru, 2, .identity, 3)], loss: .mse)),
    ]

    /// On one lru layer `snap1 = rtrl =` full BPTT for one update per sequence (ragged lanes, holes), and
    /// with `tau_b = 3` at fixed weights every update equals BPTT(3, full): the influence is the
    /// layer's exact one and runs on across updates.
    @Test(arguments: singles)
    func snap1EqualsRTRLEqualsBPTTOnOneLayer(_ c: Single) throws {
        let weights = c.spec.initialParameters(seed: 31)
        let samples = TestData.samples(spec: c.spec, lengths: [11, 7, 9], seed: 4, targetEvery: 2)
        for tauB in [0, 3] {
            let truncation = tauB == 0 ? Truncation.full : Truncation(tauB: tauB, tauMax: nil)
            let bptt = engineUpdates(spec: c.spec, weights: weights, samples: samples, truncation: truncation)
            for algorithm in [OnlineAlgorithm.snap1, .rtrl] {
                let ours = try onlineUpdates(Double.self, spec: c.spec, algorithm: algorithm, weights: weights, samples: samples,
                                             tauB: tauB).updates
                try #require(ours.count == bptt.count && !bptt.isEmpty)
                var worst = 0.0
                for (a, b) in zip(ours, bptt) {
                    #expect(a.n == b.n && a.elements == b.elements)
                    #expect(relativeError(a.loss, b.loss) < 1e-13)
                    worst = max(worst, normRelative(a.grad, b.grad))
                }
                print("online agreement: \(algorithm.rawValue) vs BPTT(\(tauB == 0 ? "full" : "3, full")), \(c.id): \(worst)")
                #expect(worst < 1e-12, "\(algorithm) \(c.id) tau_b \(tauB): \(worst)")
            }
        }
    }

    /// In a stack rtrl keeps its exact whole-stack meaning: equal to full BPTT with an lru below,
    /// between and above other kinds (its skip `D` included); snap1 is then the per-layer rule
    /// (the non-vacuity check: it differs from BPTT where a recurrent layer sits below another).
    @Test(arguments: [0, 1, 2, 3])
    func rtrlEqualsBPTTInStacks(_ index: Int) throws {
        let stacks: [NetworkSpec] = [
            Self.stack(inputs: 3, [(.lru, 4, .identity, 5), (.dense, 2, .identity, nil)], loss: .mse),
            Self.stack(inputs: 2, [(.rnn, 3, .tanh, nil), (.lru, 3, .identity, 4), (.dense, 2, .identity, nil)], loss: .mse),
            Self.stack(inputs: 2, [(.lru, 3, .identity, 4), (.indrnn, 4, .tanh, nil), (.dense, 2, .identity, nil)], loss: .mse),
            Self.stack(inputs: 2, [(.lru, 3, .identity, 2), (.dense, 3, .tanh, nil), (.lru, 3, .identity, 3), (.dense, 3, .softmax, nil)],
                       loss: .crossEntropy),
        ]
        let spec = stacks[index]
        let weights = spec.initialParameters(seed: 22).map { $0 * 1.5 }
        let samples = TestData.samples(spec: spec, lengths: [9, 6, 8], seed: 5, targetEvery: 2)
        let bptt = engineUpdates(spec: spec, weights: weights, samples: samples, truncation: .full)
        let rtrl = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: weights, samples: samples, tauB: 0).updates
        let snap = try onlineUpdates(Double.self, spec: spec, algorithm: .snap1, weights: weights, samples: samples, tauB: 0).updates
        try #require(bptt.count == 1 && rtrl.count == 1 && snap.count == 1)
        let r = normRelative(rtrl[0].grad, bptt[0].grad), s = normRelative(snap[0].grad, bptt[0].grad)
        print("online agreement: rtrl vs full BPTT, lru stack \(index): \(r); snap1 (per layer): \(s)")
        #expect(r < 1e-12)
        if index > 0 { #expect(s > 1e-4) } else { #expect(s < 1e-12) }
    }
}

extension LRUOnlineTests {
    struct Referenced: CustomTestStringConvertible, Sendable {
        let id: String
        let algorithm: OnlineAlgorithm
        let spec: NetworkSpec
        let lengths: [Int]
        let targetEvery: Int
        let tauB: Int   // 0: one update per sequence
        let lr: Double
        var testDescription: String { "\(algorithm.rawValue): \(id)" }
    }

    /// The algorithms that train lru layers, each on single layers and stacks, SGD between updates.
    static func referenced(_ algorithms: [OnlineAlgorithm]) -> [Referenced] {
        algorithms.flatMap { alg -> [Referenced] in [
            Referenced(id: "lru(4, S 5) + dense-softmax, CE, ragged, holes, tau_b 2, lr 0.3", algorithm: alg,
                       spec: stack(inputs: 3, [(.lru, 4, .identity, 5), (.dense, 3, .softmax, nil)], loss: .crossEntropy),
                       lengths: [9, 6, 8], targetEvery: 2, tauB: 2, lr: 0.3),
            Referenced(id: "lru(3, S 4, D) + dense-tanh, mse, tau_b 1, lr 0.2", algorithm: alg,
                       spec: stack(inputs: 3, [(.lru, 3, .identity, 4), (.dense, 2, .tanh, nil)], loss: .mse),
                       lengths: [7, 7], targetEvery: 1, tauB: 1, lr: 0.2),
            Referenced(id: "rnn, lru(D), dense-identity, mse, ragged, tau_b 3, lr 0.2", algorithm: alg,
                       spec: stack(inputs: 2, [(.rnn, 3, .tanh, nil), (.lru, 3, .identity, 4), (.dense, 2, .identity, nil)], loss: .mse),
                       lengths: [8, 6, 7], targetEvery: 1, tauB: 3, lr: 0.2),
            Referenced(id: "lru, indrnn-sigmoid (recurrent top), BCE, one update", algorithm: alg,
                       spec: stack(inputs: 2, [(.lru, 3, .identity, 3), (.indrnn, 2, .sigmoid, nil)], loss: .binaryCrossEntropy),
                       lengths: [7, 5], targetEvery: 1, tauB: 0, lr: 0),
            Referenced(id: "lru, dense-tanh, lru(D) (recurrent top), mse, holes, tau_b 2, lr 0.1", algorithm: alg,
                       spec: stack(inputs: 2, [(.lru, 3, .identity, 2), (.dense, 3, .tanh, nil), (.lru, 3, .identity, 3)], loss: .mse),
                       lengths: [8, 7], targetEvery: 2, tauB: 2, lr: 0.1),
            Referenced(id: "indrnn, lru(D), gru, dense-identity, mse, tau_b 2, lr 0.2", algorithm: alg,
                       spec: stack(inputs: 2, [(.indrnn, 3, .tanh, nil), (.lru, 3, .identity, 2), (.gru, 2, .tanh, nil),
                                               (.dense, 2, .identity, nil)], loss: .mse),
                       lengths: [6, 5], targetEvery: 1, tauB: 2, lr: 0.2),
        ] }
    }

    /// Every update's loss and gradient against the numpy reference (float64, 1e-10); snap1 with
    /// the reference's `"lru_chain": "step"` (the influence in the parameters' own coordinates).
    @Test(arguments: referenced([.snap1, .rtrl]))
    func matchesNumpy(_ c: Referenced) throws {
        let weights = c.spec.initialParameters(seed: 33).map { $0 * 1.5 }
        let samples = TestData.samples(spec: c.spec, lengths: c.lengths, seed: 18, targetEvery: c.targetEvery)
        let seed: UInt64 = 71
        let ours = try onlineUpdates(Double.self, spec: c.spec, algorithm: c.algorithm, weights: weights, samples: samples,
                                     tauB: c.tauB, lr: c.lr, seed: seed, batchIndex: 2)
        var json = try referenceCase(spec: c.spec, weights: weights, samples: samples)
        json["algorithm"] = c.algorithm.rawValue
        json["tau_b"] = c.tauB
        json["lr"] = c.lr
        json["lru_chain"] = "step"
        if c.algorithm == .uoro {
            let engine = try OnlineGradient<Double>(spec: c.spec, algorithm: .uoro, lanes: 1)
            json["noise"] = noiseArray(seed: seed, batchIndex: 2, steps: c.lengths.max()!, lanes: c.lengths.count,
                                       size: engine.stackedStateSize)
        }
        let reference = try OnlineReference.run(json).updates
        expectSameUpdates(ours.updates, reference, tolerance: 1e-10, c.testDescription)
    }
}

extension LRUOnlineTests {
    /// rflo and kf-rtrl are defined for rnn and indrnn layers: on a stack with an lru they refuse
    /// with a sentence that names the layer and what they support.
    @Test(arguments: [OnlineAlgorithm.rflo, .kfRTRL])
    func rfloAndKroneckerRefuseLRU(_ algorithm: OnlineAlgorithm) throws {
        let spec = Self.stack(inputs: 2, [(.rnn, 3, .tanh, nil), (.lru, 3, .identity, 4), (.dense, 2, .identity, nil)], loss: .mse)
        do {
            _ = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 2)
            Issue.record("\(algorithm.rawValue) accepted an lru layer")
        } catch let error as OnlineGradientError {
            #expect(error.description.contains("layer 1") && error.description.contains("rnn and indrnn layers only")
                    && error.description.contains("lru"), "\(error)")
        }
    }
}
