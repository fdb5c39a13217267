import Foundation
import Testing
@testable import RNNCore
import RNNTestSupport

/// LSTM and GRU finite-difference cases: alone, in stacks with rnn and dense layers, batch > 1,
/// ragged lanes, many-to-one targets, one-hot inputs and truncated windows with carried state.
let gatedGradientCases: [GradientCase] = {
    var cases: [GradientCase] = []
    for kind in [LayerKind.lstm, .gru] {
        cases.append(GradientCase(id: "\(kind) alone (output layer) / mse", inputs: 2,
                                  layers: [(kind, 3, .tanh)], loss: .mse, lengths: [6, 6], truncation: .full))
        cases.append(GradientCase(id: "\(kind), dense-softmax / ce, ragged", inputs: 3,
                                  layers: [(kind, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy,
                                  lengths: [7, 4, 6], truncation: .full))
        cases.append(GradientCase(id: "\(kind), dense-sigmoid / bce, one-hot, BPTT(2,3)", inputs: 4,
                                  layers: [(kind, 3, .tanh), (.dense, 2, .sigmoid)], loss: .binaryCrossEntropy,
                                  lengths: [7, 7], truncation: Truncation(tauB: 2, tauMax: 3), oneHot: true))
        cases.append(GradientCase(id: "dense, \(kind), dense / mse, sparse targets, BPTT(2,4)", inputs: 2,
                                  layers: [(.dense, 3, .tanh), (kind, 3, .tanh), (.dense, 2, .identity)], loss: .mse,
                                  lengths: [12, 10], truncation: Truncation(tauB: 2, tauMax: 4), targetEvery: 3))
        cases.append(GradientCase(id: "\(kind) many-to-one, BPTT(3,5)", inputs: 2,
                                  layers: [(kind, 3, .tanh), (.dense, 1, .identity)], loss: .mse,
                                  lengths: [11, 8], truncation: Truncation(tauB: 3, tauMax: 5), targetEvery: 100))
    }
    // Stacks, ragged batch of 3, every window shape including tau_max = 1 and straddling windows
    // (the state h and c carries across windows as in a stream).
    let stacks: [(String, [(LayerKind, Int, Activation)])] = [
        ("gru, lstm, dense", [(.gru, 3, .tanh), (.lstm, 3, .tanh), (.dense, 3, .softmax)]),
        ("rnn, lstm, dense", [(.rnn, 3, .tanh), (.lstm, 2, .tanh), (.dense, 3, .softmax)]),
        ("lstm, gru, rnn", [(.lstm, 3, .tanh), (.gru, 2, .tanh), (.rnn, 3, .softmax)]),
    ]
    for (name, layers) in stacks {
        for (tb, tm) in [(nil, nil), (1, 1), (2, 2), (1, 3), (2, 5), (3, 4), (3, 7)] as [(Int?, Int?)] {
            let t = tm.map { "BPTT(\(tb ?? $0),\($0))" } ?? "full"
            cases.append(GradientCase(id: "\(t) \(name) / ragged", inputs: 2, layers: layers,
                                      loss: .crossEntropy, lengths: [11, 9, 10],
                                      truncation: Truncation(tauB: tb, tauMax: tm)))
        }
    }
    return cases
}()

/// Finite-difference step of the gated cases. Their deeper, gated stacks carry more rounding
/// noise in the loss: at e = 1e-4 that noise (~1e-12 absolute on the differenced gradient) is
/// already 1e-6 of the smallest gradient entries (~1e-6, the 1e-6 floor of the relative error).
/// At e = 3e-3 the worst case measured is 1.3e-7, the fourth-order stencil's truncation error
/// (~e⁴/30 · f⁽⁵⁾) staying below that.
let fdEpsilon = 3e-3

@Suite("LSTM and GRU layers")
struct GatedLayerTests {
    /// Every update's gradient equals the central finite difference of its window loss (float64,
    /// independent scalar reference in which `h_{a-1}` and `c_{a-1}` are constants).
    @Test(arguments: gatedGradientCases)
    func updateGradientsMatchFiniteDifferences(_ c: GradientCase) {
        expectUpdatesMatchFiniteDifferences(c, epsilon: fdEpsilon)
    }

    /// Truncation cuts the LSTM cell too. With the window starting at a = n - tau_max + 1, the
    /// engine's gradient is the FD gradient with both `h_{a-1}` and `c_{a-1}` held constant, and
    /// it differs clearly from the gradient with only `h_{a-1}` held constant (c letting gradient
    /// through to earlier steps): an engine that cut only h would fail the first expectation.
    @Test func truncationCutsTheCellState() throws {
        let spec = NetworkSpec(inputs: 2, layers: [(.lstm, 3, .tanh), (.dense, 2, .identity)], loss: .mse)
        let weights = spec.initialParameters(seed: 5)
        let samples = TestData.samples(spec: spec, lengths: [9, 9], seed: 4)
        let updates = engineUpdates(spec: spec, weights: weights, samples: samples,
                                    truncation: Truncation(tauB: 3, tauMax: 3))
        let last = try #require(updates.last)
        #expect(last.a == 7 && last.n == 9)
        let reference = NaiveReference(spec: spec)
        let cut = reference.finiteDifferenceGradient(samples, weights: weights, a: last.a, p: last.p, n: last.n)
        let hOnly = reference.finiteDifferenceGradient(samples, weights: weights, a: last.a, p: last.p, n: last.n,
                                                       cutCell: false)
        #expect(worstRelativeError(last.grad, cut).error < 1e-6)
        #expect(worstRelativeError(last.grad, hOnly).error > 1e-3)
        #expect(worstRelativeError(cut, hOnly).error > 1e-3)
        // The h-only reference is not just a window that is too long either.
        let full = reference.finiteDifferenceGradient(samples, weights: weights, a: 1, p: last.p, n: last.n)
        #expect(worstRelativeError(hOnly, full).error > 1e-3)
    }

    /// `GradientCheck` (what `rnn-exp gradcheck` runs) works on gated stacks.
    @Test(arguments: [LayerKind.lstm, .gru])
    func gradientCheckRunsOnGatedLayers(_ kind: LayerKind) throws {
        let spec = NetworkSpec(inputs: 3, layers: [(kind, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let samples = TestData.samples(spec: spec, lengths: [8, 6], seed: 9)
        let batch = SequenceBatch<Double>(samples, inputSize: 3, outputSize: 3)
        let report = try #require(GradientCheck.run(spec: spec, parameters: spec.initialParameters(seed: 1),
                                                    batch: batch, truncation: Truncation(tauB: 4, tauMax: 6)))
        #expect(report.worstError < 1e-6)
        #expect(report.tensors.map(\.name) == ["layers.0.W_s", "layers.0.W_t", "layers.0.b_s", "layers.0.b_t",
                                               "layers.1.W_s", "layers.1.b"])
    }

    /// Parameter layout and names: `W_s (G·U, I)`, `W_t (G·U, U)`, `b_s`, `b_t` (PyTorch's
    /// weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0); rnn and dense keep `W_s, W_t, b`.
    @Test func layoutAndNames() {
        let spec = NetworkSpec(inputs: 5, layers: [(.lstm, 3, .tanh), (.gru, 2, .tanh), (.rnn, 4, .tanh), (.dense, 2, .identity)],
                               loss: .mse)
        let layout = ParameterLayout(spec)
        let tensors = layout.namedTensors(spec)
        #expect(tensors.map(\.name) == [
            "layers.0.W_s", "layers.0.W_t", "layers.0.b_s", "layers.0.b_t",
            "layers.1.W_s", "layers.1.W_t", "layers.1.b_s", "layers.1.b_t",
            "layers.2.W_s", "layers.2.W_t", "layers.2.b", "layers.3.W_s", "layers.3.b"])
        #expect(tensors.map(\.shape) == [[12, 5], [12, 3], [12], [12], [6, 3], [6, 2], [6], [6],
                                         [4, 2], [4, 4], [4], [2, 4], [2]])
        // Contiguous, in order, covering the buffer.
        var next = 0
        for t in tensors {
            #expect(t.range.lowerBound == next)
            next = t.range.upperBound
        }
        #expect(next == layout.count && layout.count == spec.parameterCount)
        #expect(spec.parameterCount == (12 * 5 + 12 * 3 + 24) + (6 * 3 + 6 * 2 + 12) + (8 + 16 + 4) + (8 + 2))
        // Init: uniform ±1/sqrt(units) per layer, drawn in layout order.
        let w = spec.initialParameters(seed: 3)
        #expect(w[0..<120].allSatisfy { abs($0) <= 1 / 3.0.squareRoot() })
        #expect(w[120..<162].allSatisfy { abs($0) <= 1 / 2.0.squareRoot() })
        #expect(w[120..<162].contains { abs($0) > 1 / 3.0.squareRoot() })
    }

    /// A gated layer cannot give the softmax or sigmoid output a loss needs; with mse it may be last.
    @Test func gatedOutputLayerProblems() {
        for kind in [LayerKind.lstm, .gru] {
            let ce = NetworkSpec(inputs: 2, layers: [(kind, 3, .softmax)], loss: .crossEntropy)
            #expect(ce.problems().contains { $0.contains("cannot be the last layer") })
            let bce = NetworkSpec(inputs: 2, layers: [(kind, 3, .sigmoid)], loss: .binaryCrossEntropy)
            #expect(!bce.problems().isEmpty)
            #expect(NetworkSpec(inputs: 2, layers: [(kind, 3, .tanh)], loss: .mse).problems().isEmpty)
            #expect(NetworkSpec(inputs: 2, layers: [(kind, 3, .tanh), (.dense, 2, .softmax)], loss: .crossEntropy)
                .problems().isEmpty)
        }
    }

    /// With tau_max >= length and one update per sequence, truncated BPTT is full BPTT bit for bit
    /// (float32, several batches and Adam steps).
    @Test(arguments: [(12, 12), (12, 30), (30, nil)] as [(Int?, Int?)])
    func longWindowsAreFullBPTTBitForBit(_ tb: Int?, _ tm: Int?) {
        let spec = NetworkSpec(inputs: 2, layers: [(.lstm, 5, .tanh), (.gru, 3, .tanh), (.dense, 3, .softmax)],
                               loss: .crossEntropy)
        func run(_ truncation: Truncation) -> [Double] { adamParametersAfterFourBatches(spec, truncation) }
        let full = run(.full)
        #expect(full == run(Truncation(tauB: tb, tauMax: tm)))
        #expect(full != spec.initialParameters(seed: 2).map { Double(Float($0)) })
    }

    /// Workspace reuse: a trainer that first saw a smaller batch (so its buffers grow on the second)
    /// computes exactly the gradients of a fresh trainer, for one-hot and dense inputs.
    @Test(arguments: [LayerKind.lstm, .gru])
    func growingBatchesReuseTheWorkspace(_ kind: LayerKind) {
        for oneHot in [true, false] {
            let spec = NetworkSpec(inputs: 5, layers: [(kind, 6, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
            let weights = spec.initialParameters(seed: 4)
            func batch(_ lengths: [Int], _ seed: UInt64) -> SequenceBatch<Float> {
                SequenceBatch(TestData.samples(spec: spec, lengths: lengths, seed: seed, oneHot: oneHot), inputSize: 5, outputSize: 3)
            }
            func gradients(_ trainer: TruncatedBPTT<Float>, _ b: SequenceBatch<Float>) -> [[Float]] {
                var out: [[Float]] = []
                _ = trainer.train(b) { out.append(Array($0.gradients)) }
                return out
            }
            func trainer() -> TruncatedBPTT<Float> {
                TruncatedBPTT<Float>(spec: spec, parameters: weights, truncation: Truncation(tauB: 2, tauMax: 4),
                                     optimizer: OptimizerSettings(name: .sgd, lr: 0))
            }
            let reused = trainer()
            _ = gradients(reused, batch([3], 1))
            let big = batch([9, 7, 9, 8], 2)
            #expect(gradients(reused, big) == gradients(trainer(), big), "one-hot: \(oneHot)")
        }
    }

    /// The gates' float32 sigmoid kernel against float64 libm (both the 8-wide and the tail path).
    @Test func gateSigmoidIsAccurate() {
        let grid = (0...200_001).map { Float(-100) + 200 * Float($0) / 200_001 } + [0, -0.0, 1e-8, -1e-8, 88.5, -88.5]
        var s = grid
        s.withUnsafeMutableBufferPointer { GateSigmoid<Float>.apply($0.baseAddress!, count: grid.count) }
        let worst = zip(grid, s).map { abs(Double($1) - 1 / (1 + Foundation.exp(-Double($0)))) }.max() ?? .nan
        #expect(worst < 3e-7, "sigmoid: worst absolute error \(worst)")
        #expect(s.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
    }

    struct PrecisionCase: CustomTestStringConvertible, Sendable {
        let kind: LayerKind
        let units: Int
        var oneHot = false
        var testDescription: String { "\(kind) \(units) units\(oneHot ? ", one-hot" : "")" }
    }

    /// float32 and float64 runs of the same data and weights agree to float32 rounding, on both
    /// sides of the small-kernel / BLAS switch at 128 units (and for indrnn, whose recurrence is
    /// element-wise).
    @Test(arguments: [PrecisionCase(kind: .lstm, units: 8), PrecisionCase(kind: .gru, units: 8),
                      PrecisionCase(kind: .lstm, units: 130), PrecisionCase(kind: .gru, units: 130),
                      PrecisionCase(kind: .lstm, units: 8, oneHot: true), PrecisionCase(kind: .gru, units: 130, oneHot: true),
                      PrecisionCase(kind: .indrnn, units: 8), PrecisionCase(kind: .indrnn, units: 130, oneHot: true)])
    func float32AgreesWithFloat64(_ c: PrecisionCase) {
        let spec = NetworkSpec(inputs: 3, layers: [(c.kind, c.units, .tanh), (.dense, 4, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 13)
        let samples = TestData.samples(spec: spec, lengths: [14, 11, 14], seed: 6, oneHot: c.oneHot)
        let truncation = Truncation(tauB: 3, tauMax: 6)
        let double = engineUpdates(spec: spec, weights: weights, samples: samples, truncation: truncation)
        let float = engineUpdatesFloat32(spec: spec, weights: weights, samples: samples, truncation: truncation)
        #expect(double.count == float.count && double.count == 5)
        for (d, f) in zip(double, float) {
            #expect(relativeError(d.loss, f.loss) < 1e-5, "loss at n=\(d.n): \(f.loss) vs \(d.loss)")
            var diff = 0.0, norm = 0.0
            for (x, y) in zip(d.grad, f.grad) {
                diff += (x - y) * (x - y)
                norm += x * x
            }
            #expect((diff / norm).squareRoot() < 1e-4, "gradient at n=\(d.n): relative L2 error \((diff / norm).squareRoot())")
            let worst = worstRelativeError(d.grad, f.grad, floor: 1e-3 * norm.squareRoot())
            #expect(worst.error < 1e-3, "gradient at n=\(d.n): parameter \(worst.index) \(f.grad[worst.index]) vs \(d.grad[worst.index])")
        }
    }
}

extension GatedLayerTests {
    /// An LSTM window large enough for the float32 weight gradients to take the own kernel's shared
    /// pass (`rnn_sgemm_own_pair`: ΔTW and ΔSW from one packing of the deltas; 8 lanes × 24 steps ×
    /// 4·64 gates × 32 inputs ≥ 2^20), and the vectorised cell's folded bias: float32 agrees with
    /// float64 to float32 rounding.
    @Test func float32LSTMOnWindowProductsAgreesWithFloat64() {
        let spec = NetworkSpec(inputs: 32, layers: [(.lstm, 64, .tanh), (.dense, 5, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 17)
        let samples = TestData.samples(spec: spec, lengths: [48, 48, 47, 48, 48, 30, 48, 48], seed: 9)
        let truncation = Truncation(tauB: 24, tauMax: 24)
        let double = engineUpdates(spec: spec, weights: weights, samples: samples, truncation: truncation)
        let float = engineUpdatesFloat32(spec: spec, weights: weights, samples: samples, truncation: truncation)
        #expect(double.count == float.count && double.count >= 2)
        for (d, f) in zip(double, float) {
            #expect(relativeError(d.loss, f.loss) < 1e-5, "loss at n=\(d.n): \(f.loss) vs \(d.loss)")
            var diff = 0.0, norm = 0.0
            for (x, y) in zip(d.grad, f.grad) { diff += (x - y) * (x - y); norm += x * x }
            #expect((diff / norm).squareRoot() < 1e-4, "gradient at n=\(d.n): relative L2 error \((diff / norm).squareRoot())")
            let worst = worstRelativeError(d.grad, f.grad, floor: 1e-3 * norm.squareRoot())
            #expect(worst.error < 1e-3, "gradient at n=\(d.n): parameter \(worst.index) \(f.grad[worst.index]) vs \(d.grad[worst.index])")
        }
        #expect(sgemmUsesOwnKernel(transA: true, transB: false, m: 256, n: 32, k: 8 * 24) || !PackedProduct.usesAVX512)
    }
}

/// `engineUpdates` in float32: every update's loss and gradient (as float64), learning rate 0.
func engineUpdatesFloat32(spec: NetworkSpec, weights: [Double], samples: [SequenceSample], truncation: Truncation)
    -> [(n: Int, loss: Double, grad: [Double])]
{
    let trainer = TruncatedBPTT<Float>(spec: spec, parameters: weights, truncation: truncation,
                                       optimizer: OptimizerSettings(name: .sgd, lr: 0))
    let batch = SequenceBatch<Float>(samples, inputSize: spec.inputs, outputSize: spec.outputs)
    var out: [(n: Int, loss: Double, grad: [Double])] = []
    _ = trainer.train(batch) { e in out.append((e.step, e.loss, e.gradients.map(Double.init))) }
    return out
}
