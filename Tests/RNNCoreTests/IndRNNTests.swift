import Testing
import RNNCore
import RNNTestSupport

/// `indrnn` (element-wise recurrence, SPEC 2). The numpy reference (`make_golden.py`) checks its
/// gradients and credit profile in `NumpyReferenceTests` and `GradientDiagnosticsTests`; here:
/// central differences of the window loss, the parameter layout and names, the truncation rule,
/// and the online algorithms' refusal (float32 against float64: `GatedLayerTests.float32AgreesWithFloat64`).
@Suite("indrnn layer")
struct IndRNNTests {
    static let stacks: [(String, [(LayerKind, Int, Activation)], Loss)] = [
        ("indrnn + dense-softmax", [(.indrnn, 5, .tanh), (.dense, 3, .softmax)], .crossEntropy),
        ("lstm, indrnn, dense", [(.lstm, 3, .tanh), (.indrnn, 4, .tanh), (.dense, 3, .identity)], .mse),
        ("indrnn, gru, indrnn-sigmoid output", [(.indrnn, 3, .tanh), (.gru, 3, .tanh), (.indrnn, 3, .sigmoid)],
         .binaryCrossEntropy),
    ]

    /// Every entry of every tensor against central differences of the window loss (float64), at
    /// the first update whose window truncation cuts. (Smooth activations: a difference step
    /// across relu's kink is not a derivative; relu is in the numpy reference cases.)
    @Test(arguments: 0..<3)
    func gradientMatchesFiniteDifferences(_ k: Int) throws {
        let (name, layers, loss) = Self.stacks[k]
        let spec = NetworkSpec(inputs: 3, layers: layers, loss: loss)
        let samples = TestData.samples(spec: spec, lengths: [9, 7, 8], seed: 5)
        let batch = SequenceBatch<Double>(samples, inputSize: 3, outputSize: spec.outputs)
        let report = try #require(GradientCheck.run(spec: spec, parameters: spec.initialParameters(seed: 3), batch: batch,
                                                    truncation: Truncation(tauB: 2, tauMax: 4)))
        #expect(report.windowStart > 1, "\(name): no truncated window checked")
        #expect(report.passed, "\(name): worst ratio \(report.worstRatio)")
        #expect(report.tensors.allSatisfy { $0.checked == $0.count })
        let wt = try #require(report.tensors.first { $0.name.hasSuffix("w_t") })
        #expect(wt.scale > 1e-6, "\(name): w_t's gradient is zero")
    }

    /// `W_s` (U × I), `w_t` (U), `b` (U): the names safetensors and gradient.csv use.
    @Test func layoutAndNames() {
        let spec = NetworkSpec(inputs: 3, layers: [(.indrnn, 4, .tanh), (.dense, 2, .identity)], loss: .mse)
        #expect(spec.layers[0].parameterCount == 4 * 3 + 4 + 4)
        let tensors = ParameterLayout(spec).namedTensors(spec)
        #expect(tensors.map(\.name) == ["layers.0.W_s", "layers.0.w_t", "layers.0.b", "layers.1.W_s", "layers.1.b"])
        #expect(tensors.map(\.shape) == [[4, 3], [4], [4], [2, 4], [2]])
        #expect(tensors.map(\.range.count).reduce(0, +) == spec.parameterCount)
    }

    /// tau_max at least the sequence length is full BPTT bit for bit; a shorter window differs.
    @Test func longWindowIsFullBPTT() throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.indrnn, 4, .tanh), (.dense, 2, .identity)], loss: .mse)
        let samples = TestData.samples(spec: spec, lengths: [10, 10], seed: 2)
        func updates(_ t: Truncation) -> [[Double]] {
            let trainer = TruncatedBPTT<Double>(spec: spec, parameters: spec.initialParameters(seed: 1), truncation: t,
                                                optimizer: OptimizerSettings(name: .sgd, lr: 0.1))
            var out: [[Double]] = []
            _ = trainer.train(SequenceBatch<Double>(samples, inputSize: 2, outputSize: 2)) { out.append(Array($0.gradients)) }
            return out
        }
        #expect(updates(Truncation(tauB: 3, tauMax: 10)) == updates(Truncation(tauB: 3, tauMax: nil)))
        #expect(updates(Truncation(tauB: 3, tauMax: 3)) != updates(Truncation(tauB: 3, tauMax: nil)))
    }

    /// Every algorithm trains an indrnn stack: no problem with the spec (SPEC 3.5; the exact
    /// cases are in `ElementwiseOnlineTests`).
    @Test func everyAlgorithmAcceptsIt() {
        let spec = NetworkSpec(inputs: 2, layers: [(.indrnn, 4, .tanh), (.dense, 2, .softmax)], loss: .crossEntropy)
        for a in OnlineAlgorithm.allCases {
            #expect(Algorithm.online(a, tauB: 1, rfloDecay: 0).problem(with: spec) == nil, "\(a)")
        }
        #expect(Algorithm.bptt(.full).problem(with: spec) == nil)
    }
}
