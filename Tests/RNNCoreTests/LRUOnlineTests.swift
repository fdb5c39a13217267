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
        var testDescription: String { "\(algorithm.rawValue): \(id)\(lr > 0 ? ", lr \(String(format: "%g", lr))" : "")" }
    }

    /// The algorithms that train lru layers, each on single layers and stacks, SGD between updates
    /// (uoro with a tenth of the rate: its variance on `nu_log` makes larger steps diverge, in the
    /// reference as here).
    static func referenced(_ algorithms: [OnlineAlgorithm]) -> [Referenced] {
        algorithms.flatMap { alg -> [Referenced] in
            let r = alg == .uoro ? 0.1 : 1
            return [
                Referenced(id: "lru(4, S 5) + dense-softmax, CE, ragged, holes, tau_b 2", algorithm: alg,
                           spec: stack(inputs: 3, [(.lru, 4, .identity, 5), (.dense, 3, .softmax, nil)], loss: .crossEntropy),
                           lengths: [9, 6, 8], targetEvery: 2, tauB: 2, lr: 0.3 * r),
                Referenced(id: "lru(3, S 4, D) + dense-tanh, mse, tau_b 1", algorithm: alg,
                           spec: stack(inputs: 3, [(.lru, 3, .identity, 4), (.dense, 2, .tanh, nil)], loss: .mse),
                           lengths: [7, 7], targetEvery: 1, tauB: 1, lr: 0.2 * r),
                Referenced(id: "rnn, lru(D), dense-identity, mse, ragged, tau_b 3", algorithm: alg,
                           spec: stack(inputs: 2, [(.rnn, 3, .tanh, nil), (.lru, 3, .identity, 4), (.dense, 2, .identity, nil)], loss: .mse),
                           lengths: [8, 6, 7], targetEvery: 1, tauB: 3, lr: 0.2 * r),
                Referenced(id: "lru, indrnn-sigmoid (recurrent top), BCE, one update", algorithm: alg,
                           spec: stack(inputs: 2, [(.lru, 3, .identity, 3), (.indrnn, 2, .sigmoid, nil)], loss: .binaryCrossEntropy),
                           lengths: [7, 5], targetEvery: 1, tauB: 0, lr: 0),
                Referenced(id: "lru, dense-tanh, lru(D) (recurrent top), mse, holes, tau_b 2", algorithm: alg,
                           spec: stack(inputs: 2, [(.lru, 3, .identity, 2), (.dense, 3, .tanh, nil), (.lru, 3, .identity, 3)], loss: .mse),
                           lengths: [8, 7], targetEvery: 2, tauB: 2, lr: 0.1 * r),
                Referenced(id: "indrnn, lru(D), gru, dense-identity, mse, tau_b 2", algorithm: alg,
                           spec: stack(inputs: 2, [(.indrnn, 3, .tanh, nil), (.lru, 3, .identity, 2), (.gru, 2, .tanh, nil),
                                                   (.dense, 2, .identity, nil)], loss: .mse),
                           lengths: [6, 5], targetEvery: 1, tauB: 2, lr: 0.2 * r),
            ]
        }
    }

    /// Every update's loss and gradient against the numpy reference (float64, 1e-10); snap1 with
    /// the reference's `"lru_chain": "step"` (the influence in the parameters' own coordinates).
    @Test(arguments: referenced([.snap1, .rtrl, .uoro]))
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

extension LRUOnlineTests {
    static let trained: [OnlineAlgorithm] = [.snap1, .rtrl, .uoro]

    /// uoro on lru stacks is unbiased: at fixed weights the mean of k estimates approaches rtrl's
    /// gradient at the 1/sqrt(k) rate (rms over 16 groups at k = 64 about 4 times that at k = 1024),
    /// with the lru on top (its skip D sending q on down) and below an indrnn.
    @Test(arguments: [0, 1])
    func uoroMeanApproachesRTRL(_ index: Int) throws {
        let stacks: [NetworkSpec] = [
            Self.stack(inputs: 2, [(.lru, 2, .identity, 3), (.dense, 2, .softmax, nil)], loss: .crossEntropy),
            Self.stack(inputs: 2, [(.indrnn, 2, .tanh, nil), (.lru, 2, .identity, 2), (.dense, 2, .identity, nil)], loss: .mse),
        ]
        let spec = stacks[index]
        let weights = spec.initialParameters(seed: 25)
        let base = TestData.samples(spec: spec, lengths: [5, 4], seed: 8, targetEvery: 1)
        let exact = try onlineUpdates(Double.self, spec: spec, algorithm: .rtrl, weights: weights, samples: base, tauB: 0).updates[0].grad
        func rms(_ k: Int) throws -> Double {
            try meanEstimateRMS(.uoro, spec: spec, weights: weights, base: base, exact: exact, copies: k, seed: 77)
        }
        let small = try rms(64), large = try rms(1024)
        print("online agreement: uoro mean vs rtrl on lru stack \(index), rms k=64 \(small), k=1024 \(large), ratio \(small / large) (expect 4)")
        #expect(small / large > 2.5 && small / large < 6.5)
        #expect(large < 0.25)
    }

    /// The float32 path against the float64 path, every algorithm that trains lru, a stack with two
    /// lru layers (one with its skip D, S ≠ U) around an rnn, SGD between updates.
    @Test(arguments: trained)
    func float32AgreesWithFloat64(_ algorithm: OnlineAlgorithm) throws {
        let spec = Self.stack(inputs: 3, [(.lru, 8, .identity, 12), (.rnn, 5, .tanh, nil), (.lru, 5, .identity, 7),
                                          (.dense, 3, .softmax, nil)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 26)
        let samples = TestData.samples(spec: spec, lengths: [9, 7, 8], seed: 9, targetEvery: 1)
        let lr = algorithm == .uoro ? 0.01 : 0.1
        let a = try onlineUpdates(Float.self, spec: spec, algorithm: algorithm, weights: weights, samples: samples,
                                  tauB: 2, lr: lr, seed: 3)
        let b = try onlineUpdates(Double.self, spec: spec, algorithm: algorithm, weights: weights, samples: samples,
                                  tauB: 2, lr: lr, seed: 3)
        try #require(a.updates.count == b.updates.count && !a.updates.isEmpty)
        let worst = zip(a.updates, b.updates).map { normRelative($0.grad, $1.grad) }.max() ?? .infinity
        print("online agreement: float32 vs float64 on lru, \(algorithm.rawValue): \(worst)")
        #expect(worst < 1e-4)
    }

    /// A checkpoint inside an update window resumes bit-identically on an lru stack (the state is
    /// `s`, not `h`; snap1's complex influences, rtrl's state rows, uoro's pair), and the exported
    /// influence has the size `influenceScalars` states.
    @Test(arguments: trained)
    func midWindowStateRoundTrips(_ algorithm: OnlineAlgorithm) throws {
        let spec = Self.stack(inputs: 2, [(.lru, 3, .identity, 4), (.indrnn, 2, .tanh, nil), (.lru, 2, .identity, 3),
                                          (.dense, 2, .identity, nil)], loss: .mse)
        let batch = SequenceBatch<Double>(TestData.samples(spec: spec, lengths: [9, 7], seed: 12, targetEvery: 2),
                                          inputSize: 2, outputSize: 2)
        let w = spec.initialParameters(seed: 4)
        func engine() throws -> OnlineGradient<Double> {
            let e = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 2, noiseSeed: 8)
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
        #expect(saved.state.count == 2 * (2 * 4 + 2 + 2 * 3))
        #expect(saved.influence.count == head.influenceScalars)
        #expect(head.influenceScalars == OnlineGradient<Double>.influenceScalars(spec: spec, algorithm: algorithm, lanes: 2))
        let tail = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 2, noiseSeed: 8)
        tail.begin(batch, epoch: 1, batchIndex: 2)
        try tail.restoreState(try JSONDecoder().decode(OnlineState.self, from: try JSONEncoder().encode(saved)))
        #expect(tail.exportState() == saved)
        w.withUnsafeBufferPointer { tail.advance(to: 9, parameters: $0) }
        _ = g.withUnsafeMutableBufferPointer { tail.takeGradient(into: $0) }
        #expect(g == expected && expected.contains { $0 != 0 })
    }

    /// snap1's memory on an lru layer is about the layer's own parameters (SPEC 3.5): `2S(3 + I)`
    /// scalars per lane (its `nu_log`, `theta_log`, `gamma_log`, `B_re`, `B_im` as complex
    /// influences; `C`, `D` need none), against rtrl's `2S · P` for the same layer.
    @Test func snap1MemoryIsAboutP() throws {
        let spec = Self.stack(inputs: 8, [(.lru, 16, .identity, 32), (.dense, 4, .identity, nil)], loss: .mse)
        let p = spec.layers[0].parameterCount
        let snap = OnlineGradient<Float>.influenceScalars(spec: spec, algorithm: .snap1, lanes: 1)
        let rtrl = OnlineGradient<Float>.influenceScalars(spec: spec, algorithm: .rtrl, lanes: 1)
        #expect(snap == 2 * 32 * (3 + 8))
        #expect(snap <= p && rtrl == 2 * 32 * p)
        print("online memory per lane, lru(16, S 32, I 8): snap1 \(snap) scalars, P = \(p), rtrl \(rtrl)")
    }

    /// A stream cut into two batches on an lru stack: state `s`, influence and the pending window
    /// carry across the calls (the second piece through `exportState` / `restoreState` into a
    /// fresh engine), equal to the numpy reference's single call over all steps.
    @Test(arguments: trained)
    func streamCarriesAcrossCalls(_ algorithm: OnlineAlgorithm) throws {
        let spec = Self.stack(inputs: 2, [(.lru, 3, .identity, 3), (.rnn, 3, .tanh, nil), (.dense, 2, .sigmoid, nil)],
                              loss: .binaryCrossEntropy)
        let weights = spec.initialParameters(seed: 5).map { $0 * 1.5 }
        let whole = TestData.samples(spec: spec, lengths: [10, 10, 10], seed: 4, targetEvery: 2)
        func piece(_ range: Range<Int>) -> [SequenceSample] {
            whole.map { s in
                guard case .dense(let x) = s.inputs, case .values(let y) = s.targets else { fatalError() }
                return SequenceSample(length: range.count, inputs: .dense(Array(x[(range.lowerBound * 2)..<(range.upperBound * 2)])),
                                      targets: .values(Array(y[(range.lowerBound * 2)..<(range.upperBound * 2)])),
                                      mask: Array(s.mask[range]))
            }
        }
        let seed: UInt64 = 9, tauB = 3, lr = algorithm == .uoro ? 0.05 : 0.2
        var w = weights
        let first = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 3, noiseSeed: seed)
        first.resetState()
        var ours = driveOnline(first, batch: SequenceBatch<Double>(piece(0..<5), inputSize: 2, outputSize: 2),
                               weights: &w, tauB: tauB, lr: lr, offset: 0, stream: true, batchIndex: 0)
        let saved = first.exportState()
        #expect(saved.pendingElements > 0, "the cut falls inside a window")
        let second = try OnlineGradient<Double>(spec: spec, algorithm: algorithm, lanes: 3, noiseSeed: seed)
        try second.restoreState(saved)
        ours += driveOnline(second, batch: SequenceBatch<Double>(piece(5..<10), inputSize: 2, outputSize: 2),
                            weights: &w, tauB: tauB, lr: lr, offset: 5, stream: false, batchIndex: 1)
        var json = try referenceCase(spec: spec, weights: weights, samples: whole)
        json["algorithm"] = algorithm.rawValue
        json["tau_b"] = tauB
        json["lr"] = lr
        json["lru_chain"] = "step"
        if algorithm == .uoro {
            let s = first.stackedStateSize
            json["noise"] = noiseArray(seed: seed, batchIndex: 0, steps: 5, lanes: 3, size: s)
                + noiseArray(seed: seed, batchIndex: 1, steps: 5, lanes: 3, size: s)
        }
        let reference = try OnlineReference.run(json).updates
        #expect(reference.map(\.n) == [3, 6, 9, 10])
        expectSameUpdates(ours, reference, tolerance: 1e-10, "lru stream \(algorithm.rawValue)")
    }
}
