import Foundation
import Testing
@testable import RNNCore
import RNNTestSupport

/// Optimizer steps against values worked by hand from PyTorch's documented update rules
/// (torch.optim.SGD / Adam / RMSprop docs), on one parameter p0 = 1 with a constant gradient 0.5.
@Suite("Optimizers")
struct OptimizerTests {
    /// Runs `steps` updates with gradient `g` (recomputed as given, since weight decay edits it).
    func run(_ settings: OptimizerSettings, steps: Int, p0: Double = 1, g: Double = 0.5) -> [Double] {
        let opt = Optimizer<Double>(settings: settings, count: 1)
        var p = [p0], out: [Double] = []
        for _ in 0..<steps {
            var grad = [g]
            p.withUnsafeMutableBufferPointer { pp in
                grad.withUnsafeMutableBufferPointer { gg in opt.update(parameters: pp.baseAddress!, gradients: gg.baseAddress!) }
            }
            out.append(p[0])
        }
        return out
    }

    func close(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-15 * max(1, abs($1)) }
    }

    @Test func sgdPlain() {
        // p ← p - lr g:  1 - 0.1·0.5 = 0.95, 0.90
        #expect(close(run(OptimizerSettings(name: .sgd, lr: 0.1), steps: 2), [0.95, 0.9]))
    }

    @Test func sgdMomentum() {
        var s = OptimizerSettings(name: .sgd, lr: 0.1)
        s.momentum = 0.9
        // buf = 0.5, 0.95, 1.355;  p = 1 - 0.05, - 0.095, - 0.1355
        #expect(close(run(s, steps: 3), [0.95, 0.855, 0.7195]))
    }

    @Test func sgdNesterov() {
        var s = OptimizerSettings(name: .sgd, lr: 0.1)
        s.momentum = 0.9
        s.nesterov = true
        // buf = 0.5 → g' = 0.5 + 0.9·0.5 = 0.95;  buf = 0.95 → g' = 0.5 + 0.855 = 1.355
        #expect(close(run(s, steps: 2), [1 - 0.095, 1 - 0.095 - 0.1355]))
    }

    @Test func sgdWeightDecay() {
        var s = OptimizerSettings(name: .sgd, lr: 0.1)
        s.weightDecay = 0.1
        // g' = 0.5 + 0.1·1 = 0.6 → 0.94;  g' = 0.5 + 0.094 = 0.594 → 0.8806
        #expect(close(run(s, steps: 2), [0.94, 0.8806]))
    }

    @Test func adam() {
        // Constant g: m̂ = g and v̂ = g² at every step, so each step moves lr · g / (|g| + eps·…):
        // step 1: denom = sqrt(0.001·0.25)/sqrt(0.001) + 1e-8 = 0.5 + 1e-8 → p = 1 - 0.1·0.5/(0.5 + 1e-8)
        let s = OptimizerSettings(name: .adam, lr: 0.1)
        let p = run(s, steps: 2)
        let step = 0.1 * 0.5 / (0.5 + 1e-8)
        #expect(abs(p[0] - (1 - step)) < 1e-15)
        #expect(abs(p[1] - (1 - 2 * step)) < 1e-12)
        #expect(OptimizerSettings(name: .adam).lr == 0.001)
    }

    @Test func rmsprop() {
        // v1 = 0.01·0.25 = 0.0025 → p1 = 1 - 0.01·0.5/(0.05 + 1e-8)
        // v2 = 0.99·0.0025 + 0.0025 = 0.004975 → p2 = p1 - 0.01·0.5/(sqrt(0.004975) + 1e-8)
        let p = run(OptimizerSettings(name: .rmsprop), steps: 2)
        let p1 = 1 - 0.005 / (0.05 + 1e-8)
        let p2 = p1 - 0.005 / (0.004975.squareRoot() + 1e-8)
        #expect(abs(p[0] - p1) < 1e-15 && abs(p[1] - p2) < 1e-15, "\(p)")
        var s = OptimizerSettings(name: .rmsprop)
        s.momentum = 0.9
        // buf1 = 0.5/(0.05+1e-8); buf2 = 0.9 buf1 + 0.5/(sqrt(0.004975)+1e-8)
        let b1 = 0.5 / (0.05 + 1e-8), b2 = 0.9 * b1 + 0.5 / (0.004975.squareRoot() + 1e-8)
        let q = run(s, steps: 2)
        #expect(abs(q[0] - (1 - 0.01 * b1)) < 1e-15 && abs(q[1] - (1 - 0.01 * b1 - 0.01 * b2)) < 1e-14, "\(q)")
    }

    /// clip_norm scales the gradient by clip / (norm + 1e-6) when that is below 1, as
    /// `torch.nn.utils.clip_grad_norm_` does.
    @Test func clippingFollowsClipGradNorm() {
        let spec = NetworkSpec(inputs: 1, layers: [(.rnn, 1, .identity)], loss: .mse)
        let w: [Double] = [0.5, 0.8, 0.1]
        let sample = SequenceSample(length: 1, inputs: .dense([2]), targets: .values([-3]), mask: [true])
        // h = 0.5·2 + 0.1 = 1.1; delta = 2(1.1 + 3) = 8.2; grads (dSW, dTW, db) = (16.4, 0, 8.2)
        let norm = (16.4 * 16.4 + 8.2 * 8.2).squareRoot()
        let trainer = TruncatedBPTT<Double>(spec: spec, parameters: w, truncation: .full,
                                            optimizer: OptimizerSettings(name: .sgd, lr: 1), clipNorm: 1)
        var seen = 0.0
        _ = trainer.train(SequenceBatch([sample], inputSize: 1, outputSize: 1)) { seen = $0.gradNorm }
        #expect(abs(seen - norm) < 1e-12)
        let c = 1 / (norm + 1e-6)
        let p = trainer.parameters
        #expect(abs(p[0] - (0.5 - 16.4 * c)) < 1e-14 && p[1] == 0.8 && abs(p[2] - (0.1 - 8.2 * c)) < 1e-14)
    }
}
