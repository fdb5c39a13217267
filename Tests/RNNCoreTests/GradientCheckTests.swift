import Testing
import RNNCore
import RNNTestSupport

/// A named finite-difference case: a layer stack, its loss, the batch and the truncation.
struct GradientCase: CustomTestStringConvertible, Sendable {
    let id: String
    let inputs: Int
    let layers: [(LayerKind, Int, Activation)]
    let loss: Loss
    let lengths: [Int]
    let truncation: Truncation
    var targetEvery = 1
    var oneHot = false
    var testDescription: String { id }
    var spec: NetworkSpec { NetworkSpec(inputs: inputs, layers: layers, loss: loss) }
}

extension GradientCase: @unchecked Sendable {}

let gradientCases: [GradientCase] = {
    var cases: [GradientCase] = []
    // Every hidden activation with every loss, one rnn layer + output layer.
    for act in [Activation.tanh, .sigmoid, .relu, .identity] {
        cases.append(GradientCase(id: "rnn-\(act)+dense-softmax/ce", inputs: 3,
                                  layers: [(.rnn, 4, act), (.dense, 3, .softmax)], loss: .crossEntropy,
                                  lengths: [5, 5], truncation: .full))
        cases.append(GradientCase(id: "rnn-\(act)+dense-sigmoid/bce", inputs: 2,
                                  layers: [(.rnn, 3, act), (.dense, 2, .sigmoid)], loss: .binaryCrossEntropy,
                                  lengths: [4, 4], truncation: .full))
        for outAct in [Activation.tanh, .identity, .sigmoid, .relu] {
            cases.append(GradientCase(id: "rnn-\(act)+dense-\(outAct)/mse", inputs: 2,
                                      layers: [(.rnn, 3, act), (.dense, 2, outAct)], loss: .mse,
                                      lengths: [4, 4], truncation: .full))
        }
    }
    // Recurrent output layers (the seed's network has one).
    cases.append(GradientCase(id: "rnn-tanh, rnn-identity/mse", inputs: 1,
                              layers: [(.rnn, 2, .tanh), (.rnn, 1, .identity)], loss: .mse,
                              lengths: [6], truncation: .full))
    cases.append(GradientCase(id: "rnn-sigmoid output/bce", inputs: 2,
                              layers: [(.rnn, 3, .sigmoid)], loss: .binaryCrossEntropy,
                              lengths: [5, 3], truncation: .full))
    cases.append(GradientCase(id: "rnn-softmax output/ce", inputs: 2,
                              layers: [(.rnn, 3, .softmax)], loss: .crossEntropy,
                              lengths: [5, 4], truncation: Truncation(tauB: 2, tauMax: 3)))
    // Deeper stacks, batch > 1, ragged lanes, many-to-one targets.
    cases.append(GradientCase(id: "rnn, rnn, dense / ragged batch of 3", inputs: 3,
                              layers: [(.rnn, 4, .tanh), (.rnn, 3, .tanh), (.dense, 4, .softmax)],
                              loss: .crossEntropy, lengths: [7, 4, 6], truncation: .full))
    cases.append(GradientCase(id: "dense, rnn, dense / mse", inputs: 2,
                              layers: [(.dense, 3, .tanh), (.rnn, 3, .tanh), (.dense, 1, .identity)],
                              loss: .mse, lengths: [5, 5], truncation: .full))
    cases.append(GradientCase(id: "many-to-one target at the last step only", inputs: 2,
                              layers: [(.rnn, 3, .tanh), (.dense, 1, .identity)], loss: .mse,
                              lengths: [6, 4], truncation: .full, targetEvery: 100))
    cases.append(GradientCase(id: "one-hot inputs", inputs: 5,
                              layers: [(.rnn, 4, .tanh), (.dense, 5, .softmax)], loss: .crossEntropy,
                              lengths: [6, 6], truncation: Truncation(tauB: 3, tauMax: 3), oneHot: true))
    // Truncation: carried non-zero state, tau_b < tau_max, tau_max = 1, windows that straddle.
    for (tb, tm) in [(1, 1), (2, 2), (1, 3), (2, 5), (3, 4), (4, 4), (3, 7)] {
        cases.append(GradientCase(id: "BPTT(\(tb),\(tm)) rnn, rnn, dense / ragged", inputs: 2,
                                  layers: [(.rnn, 3, .tanh), (.rnn, 2, .sigmoid), (.dense, 3, .softmax)],
                                  loss: .crossEntropy, lengths: [11, 9, 10],
                                  truncation: Truncation(tauB: tb, tauMax: tm)))
    }
    cases.append(GradientCase(id: "BPTT(2,4) sparse targets, mse", inputs: 2,
                              layers: [(.rnn, 3, .tanh), (.dense, 2, .identity)], loss: .mse,
                              lengths: [12, 12], truncation: Truncation(tauB: 2, tauMax: 4), targetEvery: 3))
    return cases
}()

/// Every update of `c`'s batch against the finite differences of its window loss (float64, the
/// naive reference; `epsilon` the difference step): the loss to
/// 1e-12 and every gradient entry to 1e-6.
func expectUpdatesMatchFiniteDifferences(_ c: GradientCase, epsilon: Double = 1e-4) {
    let spec = c.spec
    #expect(spec.problems().isEmpty, "\(spec.problems())")
    let weights = spec.initialParameters(seed: 7)
    let samples = TestData.samples(spec: spec, lengths: c.lengths, seed: 3, targetEvery: c.targetEvery,
                                   oneHot: c.oneHot)
    let reference = NaiveReference(spec: spec)
    let updates = engineUpdates(spec: spec, weights: weights, samples: samples, truncation: c.truncation)
    #expect(!updates.isEmpty)
    for u in updates {
        let loss = reference.windowLoss(samples, weights: weights, frozen: weights, a: u.a, p: u.p, n: u.n)
        #expect(relativeError(loss, u.loss) < 1e-12, "loss at n=\(u.n): \(u.loss) vs reference \(loss)")
        let fd = reference.finiteDifferenceGradient(samples, weights: weights, a: u.a, p: u.p, n: u.n, epsilon: epsilon)
        let worst = worstRelativeError(u.grad, fd)
        #expect(worst.error < 1e-6,
                "update n=\(u.n) (p=\(u.p), a=\(u.a)): parameter \(worst.index) engine \(u.grad[worst.index]) vs FD \(fd[worst.index])")
    }
}

@Suite("Finite differences (float64)")
struct GradientCheckTests {
    /// Every update's gradient equals the central finite difference of its window loss, where the
    /// window loss sees `h_{a-1}` as a constant (weights are held fixed with lr = 0, so the stored
    /// activations were computed with the current weights).
    @Test(arguments: gradientCases)
    func updateGradientsMatchFiniteDifferences(_ c: GradientCase) {
        expectUpdatesMatchFiniteDifferences(c)
    }

    /// The truncated gradient is not the full one: the same FD with the window reaching back to
    /// step 1 disagrees, so the check above would catch a window that is too long.
    @Test func truncatedGradientDiffersFromFullGradient() {
        let spec = NetworkSpec(inputs: 2, layers: [(.rnn, 3, .tanh), (.dense, 2, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 11)
        let samples = TestData.samples(spec: spec, lengths: [10, 10], seed: 5)
        let updates = engineUpdates(spec: spec, weights: weights, samples: samples,
                                    truncation: Truncation(tauB: 2, tauMax: 2))
        let last = updates.last!
        #expect(last.a == 9)
        let full = NaiveReference(spec: spec).finiteDifferenceGradient(samples, weights: weights, a: 1, p: last.p, n: last.n)
        #expect(worstRelativeError(last.grad, full).error > 1e-3)
    }
}
