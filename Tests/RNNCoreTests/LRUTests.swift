import Foundation
import Testing
@testable import RNNCore
import RNNTestSupport

/// `lru` (linear recurrent unit, SPEC 2): its BPTT(tau_b, tau_max) gradients against the
/// independent numpy reference (`make_golden.py`, written from SPEC 2 alone) and against central
/// differences, float32 against float64, one-hot inputs, its tensors and initialisation.
@Suite("lru layer")
struct LRUTests {
    /// A stack given as layer specs (lru needs its state size), inputs chained.
    static func stack(inputs: Int, _ layers: [(LayerKind, Int, Activation, Int?)], loss: Loss) -> NetworkSpec {
        var specs: [LayerSpec] = [], previous = inputs
        for (kind, units, activation, state) in layers {
            specs.append(LayerSpec(kind: kind, inputs: previous, units: units, activation: activation, state: state))
            previous = units
        }
        return NetworkSpec(layers: specs, loss: loss)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let spec: NetworkSpec
        let lengths: [Int]
        let tauB: Int?, tauMax: Int?
        var testDescription: String { id }
    }

    static let cases: [Case] = [
        Case(id: "lru(4, S 3) + dense-softmax, CE, BPTT(2,5), ragged",
             spec: stack(inputs: 3, [(.lru, 4, .identity, 3), (.dense, 3, .softmax, nil)], loss: .crossEntropy),
             lengths: [11, 8, 10], tauB: 2, tauMax: 5),
        Case(id: "rnn, lru with D (U = I, S 5), dense-identity, mse, BPTT(3,4)",
             spec: stack(inputs: 2, [(.rnn, 3, .tanh, nil), (.lru, 3, .identity, 5), (.dense, 2, .identity, nil)], loss: .mse),
             lengths: [10, 7], tauB: 3, tauMax: 4),
        Case(id: "lru output layer (D), mse, full",
             spec: stack(inputs: 2, [(.lru, 2, .identity, 4)], loss: .mse), lengths: [9, 9], tauB: nil, tauMax: nil),
        Case(id: "lru, gru, lru, dense-sigmoid, BCE, BPTT(1,3)",
             spec: stack(inputs: 3, [(.lru, 3, .identity, 2), (.gru, 3, .tanh, nil), (.lru, 4, .identity, 3), (.dense, 2, .sigmoid, nil)],
                         loss: .binaryCrossEntropy),
             lengths: [8, 6, 7], tauB: 1, tauMax: 3),
    ]

    /// Every update's loss and gradient against the numpy reference (float64, 1e-10).
    @Test(arguments: cases)
    func engineMatchesNumpy(_ c: Case) throws {
        let weights = c.spec.initialParameters(seed: 21)
        let samples = TestData.samples(spec: c.spec, lengths: c.lengths, seed: 8)
        let reference = try runNumpy(spec: c.spec, weights: weights, samples: samples, tauB: c.tauB ?? 0,
                                     tauMax: c.tauMax ?? 0, creditLags: 0)
        let updates = engineUpdates(spec: c.spec, weights: weights, samples: samples,
                                    truncation: Truncation(tauB: c.tauB, tauMax: c.tauMax))
        try #require(updates.count == reference.count && !updates.isEmpty, "\(updates.count) updates vs numpy \(reference.count)")
        var worstSeen = 0.0
        for (u, r) in zip(updates, reference) {
            #expect(u.n == r["n"] as? Int)
            #expect(u.elements == r["elements"] as? Int)
            let loss = try #require(r["loss"] as? Double)
            #expect(relativeError(u.loss, loss) < 1e-10, "loss at n=\(u.n)")
            let grad = try #require(r["grad"] as? [Double])
            let worst = worstRelativeError(u.grad, grad, floor: 1e-12)
            worstSeen = max(worstSeen, worst.error)
            #expect(worst.error < 1e-10, "n=\(u.n): parameter \(worst.index) engine \(u.grad[worst.index]) vs numpy \(grad[worst.index])")
        }
        print("lru agreement with numpy, \(c.id): \(worstSeen)")
    }

    /// Every entry of every tensor against central differences of the window loss (float64), at
    /// the first update whose window truncation cuts.
    @Test(arguments: [0, 1, 3])
    func gradientMatchesFiniteDifferences(_ k: Int) throws {
        let c = Self.cases[k]
        let samples = TestData.samples(spec: c.spec, lengths: [9, 7, 8], seed: 5)
        let batch = SequenceBatch<Double>(samples, inputSize: c.spec.inputs, outputSize: c.spec.outputs)
        let report = try #require(GradientCheck.run(spec: c.spec, parameters: c.spec.initialParameters(seed: 3), batch: batch,
                                                    truncation: Truncation(tauB: 2, tauMax: 4)))
        #expect(report.windowStart > 1, "\(c.id): no truncated window checked")
        #expect(report.passed, "\(c.id): worst ratio \(report.worstRatio)")
        for name in ["nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im"] {
            let t = try #require(report.tensors.first { $0.name.hasSuffix(".\(name)") }, "\(name)")
            #expect(t.scale > 1e-8, "\(c.id): \(name)'s gradient is zero")
        }
    }

    /// The float32 path against float64 over an SGD run.
    @Test func float32AgreesWithFloat64() throws {
        let spec = Self.stack(inputs: 3, [(.lru, 24, .identity, 16), (.dense, 5, .tanh, nil), (.lru, 5, .identity, 8), (.dense, 3, .softmax, nil)],
                              loss: .crossEntropy)
        let samples = TestData.samples(spec: spec, lengths: [12, 9, 11], seed: 6)
        func run<S: RNNScalar>(_: S.Type) -> [Double] {
            let trainer = TruncatedBPTT<S>(spec: spec, parameters: spec.initialParameters(seed: 4), truncation: Truncation(tauB: 3, tauMax: 6),
                                           optimizer: OptimizerSettings(name: .sgd, lr: 0.05))
            _ = trainer.train(SequenceBatch<S>(samples, inputSize: 3, outputSize: 3))
            return trainer.parameters
        }
        let rel = normRelative(run(Float.self), run(Double.self))
        print("lru agreement: float32 vs float64 weights after SGD: \(rel)")
        #expect(rel < 1e-5)
    }

    /// One-hot inputs (a column of `B` per step, `D` at the input's index) give what the same
    /// inputs as dense vectors give.
    @Test func oneHotInputsEqualDenseInputs() throws {
        let spec = Self.stack(inputs: 4, [(.lru, 4, .identity, 3), (.dense, 3, .softmax, nil)], loss: .crossEntropy)
        let hot = TestData.samples(spec: spec, lengths: [7, 5], seed: 3, oneHot: true)
        let dense = hot.map { s -> SequenceSample in
            guard case .oneHot(let idx) = s.inputs else { return s }
            var x = [Double](repeating: 0, count: s.length * 4)
            for (n, k) in idx.enumerated() where k >= 0 { x[n * 4 + Int(k)] = 1 }
            return SequenceSample(length: s.length, inputs: .dense(x), targets: s.targets, mask: s.mask)
        }
        let w = spec.initialParameters(seed: 2)
        let a = engineUpdates(spec: spec, weights: w, samples: hot, truncation: Truncation(tauB: 2, tauMax: 3))
        let b = engineUpdates(spec: spec, weights: w, samples: dense, truncation: Truncation(tauB: 2, tauMax: 3))
        try #require(a.count == b.count && !a.isEmpty)
        for (x, y) in zip(a, b) { #expect(normRelative(x.grad, y.grad) < 1e-14 && relativeError(x.loss, y.loss) < 1e-14) }
    }

    /// SPEC 2's names and shapes, `D` only when units = inputs, and the initialisation: `|λ|` on the
    /// ring, `γ = sqrt(1 − |λ|²)`, phases in `(0, 2π·max_phase]`, `B`'s and `C`'s spread.
    @Test func tensorsAndInitialisation() throws {
        let spec = NetworkSpec(layers: [LayerSpec(kind: .lru, inputs: 3, units: 4, activation: .identity, state: 200,
                                                  ring: LRURing(rMin: 0.5, rMax: 0.8, maxPhase: 0.25)),
                                        LayerSpec(kind: .lru, inputs: 4, units: 4, activation: .identity, state: 2)], loss: .mse)
        let tensors = ParameterLayout(spec).namedTensors(spec)
        #expect(tensors.map(\.name) == ["nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im"].map { "layers.0.\($0)" }
                + ["nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im", "D"].map { "layers.1.\($0)" })
        #expect(tensors[3].shape == [200, 3] && tensors[5].shape == [4, 200] && tensors.last?.shape == [4])
        #expect(tensors.map(\.range.count).reduce(0, +) == spec.parameterCount)
        let w = spec.initialParameters(seed: 7)
        var sumB = 0.0, sumC = 0.0
        for k in 0..<200 {
            let modulus = exp(-exp(w[k])), phase = exp(w[200 + k]), gamma = exp(w[400 + k])
            #expect(modulus >= 0.5 - 1e-12 && modulus <= 0.8 + 1e-12)
            #expect(phase > 0 && phase <= 2 * Double.pi * 0.25 + 1e-12)
            #expect(abs(gamma - (1 - modulus * modulus).squareRoot()) < 1e-12)
        }
        for j in tensors[3].range { sumB += w[j] * w[j] }
        for j in tensors[5].range { sumC += w[j] * w[j] }
        let varB = sumB / 600, varC = sumC / 800
        #expect(abs(varB - 1.0 / 6) < 0.03, "B variance \(varB), expected 1/(2·3)")
        #expect(abs(varC - 1.0 / 400) < 0.0006, "C variance \(varC), expected 1/(2·200)")
    }
}
