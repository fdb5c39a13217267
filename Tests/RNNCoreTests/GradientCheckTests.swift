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

@Suite("Gradient check criterion")
struct GradientCheckCriterionTests {
    /// `|g - fd| <= atol · max|fd| + rtol · |fd|` per tensor: the unperturbed gradient passes, and
    /// the same gradient with one entry off by 1e-4 relative (the largest entry of each tensor in
    /// turn, so the error is 1e-4 of the tensor's scale) fails, in that tensor only.
    @Test(arguments: [LayerKind.rnn, .lstm, .gru])
    func failsWhenOneEntryIsOffBy1e4Relative(_ kind: LayerKind) throws {
        let spec = NetworkSpec(inputs: 3, layers: [(kind, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let samples = TestData.samples(spec: spec, lengths: [8, 6], seed: 9)
        let batch = SequenceBatch<Double>(samples, inputSize: 3, outputSize: 3)
        let report = try #require(GradientCheck.run(spec: spec, parameters: spec.initialParameters(seed: 1),
                                                    batch: batch, truncation: Truncation(tauB: 4, tauMax: 6)))
        #expect(report.passed, "worst ratio \(report.worstRatio)")
        let tensors = ParameterLayout(spec).namedTensors(spec).map { ($0.name, $0.range) }
        let checked = Set(0..<report.analytic.count)
        let unperturbed = GradientCheck.compare(analytic: report.analytic, numeric: report.numeric, checked: checked,
                                                tensors: tensors)
        #expect(unperturbed.allSatisfy { $0.worstRatio <= 1 })
        for (t, tensor) in tensors.enumerated() {
            let largest = try #require(tensor.1.max { abs(report.numeric[$0]) < abs(report.numeric[$1]) })
            var g = report.analytic
            g[largest] *= 1 + 1e-4
            let results = GradientCheck.compare(analytic: g, numeric: report.numeric, checked: checked, tensors: tensors)
            #expect(results[t].worstRatio > 1, "\(tensor.0): ratio \(results[t].worstRatio)")
            #expect(results[t].worstRatioIndex == largest - tensor.1.lowerBound)
            for (other, r) in results.enumerated() where other != t { #expect(r.worstRatio <= 1) }
        }
    }

    /// The ratio's edge cases: exact agreement is 0, a difference where the bound is 0 is
    /// infinite, NaN fails.
    @Test func ratioEdgeCases() {
        let tol = GradientCheck.Tolerance.standard
        #expect(tol.ratio(analytic: 0, numeric: 0, scale: 0) == 0)
        let exact = GradientCheck.Tolerance(absolute: 1e-6, relative: 1e-6, scaleFloor: 0)
        #expect(exact.ratio(analytic: 1e-30, numeric: 0, scale: 0) == .infinity)
        // A tensor whose exact gradient is 0: difference quotients of ~1e-13 noise pass, 1e-9 fails.
        #expect(tol.ratio(analytic: 0, numeric: -3.7e-13, scale: 3.7e-13) < 0.01)
        #expect(tol.ratio(analytic: 0, numeric: 1e-9, scale: 1e-9) > 1)
        #expect(tol.ratio(analytic: 1 + 1e-4, numeric: 1, scale: 1) > 1)
        #expect(tol.ratio(analytic: 1 + 1e-7, numeric: 1, scale: 1) <= 1)
        #expect(tol.ratio(analytic: 1e-6 + 5e-12, numeric: 1e-6, scale: 1) < 1e-5)
        #expect(tol.text == "|g - fd| <= 1e-6·max(max|fd|, 1e-4) + 1e-6·|fd|")
        let r = GradientCheck.compare(analytic: [.nan], numeric: [1], checked: [0], tensors: [("w", 0..<1)])
        #expect(r[0].worstRatio == .infinity)
    }
}

/// Issue 30, item 4: `gradcheck` differences a sample of each tensor by default.
@Suite("Gradient check entry sample")
struct GradientCheckSampleTests {
    /// The sample holds at most `perTensor` entries of each tensor (all of a smaller one), always
    /// the largest `|g|` and some exact zeros, the same for the same seed and another for another.
    @Test func sampleKeepsTheLargestAndSomeZeros() throws {
        var rng = Xoshiro256(seed: 3)
        var g = (0..<1_000).map { _ in Double.random(in: -1...1, using: &rng) }
        for i in stride(from: 0, to: 600, by: 7) { g[i] = 0 }
        let large = [17, 503, 777, 901, 999]
        for (k, i) in large.enumerated() { g[i] = 10 + Double(k) }
        let tensors = [0..<900, 900..<1_000, 0..<0]
        let selection = GradientCheck.EntrySelection.sample(perTensor: 40, largest: 4, zeros: 3, seed: 1)
        let chosen = selection.indices(gradient: g, tensors: [0..<900, 900..<930])
        #expect(chosen == chosen.sorted() && Set(chosen).count == chosen.count)
        let first = chosen.filter { $0 < 900 }, second = chosen.filter { $0 >= 900 }
        #expect(first.count == 40 && second == Array(900..<930))
        for i in [17, 503, 777] { #expect(first.contains(i), "largest |g| entry \(i) not sampled") }
        #expect(first.filter { g[$0] == 0 }.count >= 3)
        #expect(selection.indices(gradient: g, tensors: tensors) == selection.indices(gradient: g, tensors: tensors))
        let other = GradientCheck.EntrySelection.sample(perTensor: 40, largest: 4, zeros: 3, seed: 2)
        #expect(other.indices(gradient: g, tensors: tensors) != selection.indices(gradient: g, tensors: tensors))
        #expect(GradientCheck.EntrySelection.all.indices(gradient: g, tensors: tensors) == Array(0..<1_000))
    }

    /// A sampled check reports how many entries of each tensor it differenced, and fails when the
    /// largest entry of a tensor is off by 1e-4 relative, as the full check does.
    @Test func sampledCheckCountsAndCatchesAWrongLargestEntry() throws {
        let spec = NetworkSpec(inputs: 3, layers: [(.rnn, 12, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let samples = TestData.samples(spec: spec, lengths: [8, 6], seed: 9)
        let batch = SequenceBatch<Double>(samples, inputSize: 3, outputSize: 3)
        let selection = GradientCheck.EntrySelection.sample(perTensor: 20, largest: 4, zeros: 2, seed: 7)
        let report = try #require(GradientCheck.run(spec: spec, parameters: spec.initialParameters(seed: 1), batch: batch,
                                                    truncation: Truncation(tauB: 4, tauMax: 6), entries: selection))
        #expect(report.passed, "worst ratio \(report.worstRatio)")
        #expect(report.tensors.map(\.checked) == [20, 20, 12, 20, 3])
        #expect(report.tensors.map(\.count) == [36, 144, 12, 36, 3])
        let tensors = ParameterLayout(spec).namedTensors(spec).map { ($0.name, $0.range) }
        let checked = Set(report.numeric.indices.filter { !report.numeric[$0].isNaN })
        #expect(checked.count == 75)
        let wt = tensors[1].1
        let largest = try #require(wt.max { abs(report.analytic[$0]) < abs(report.analytic[$1]) })
        #expect(checked.contains(largest))
        var g = report.analytic
        g[largest] *= 1 + 1e-4
        let results = GradientCheck.compare(analytic: g, numeric: report.numeric, checked: checked, tensors: tensors)
        #expect(results[1].worstRatio > 1)
    }

    /// Issue 29 bug 7: rtrl's first update (step 1) has `W_t`'s gradient exactly 0 (`h_0 = 0`);
    /// the default update is the first where every tensor's gradient is nonzero.
    @Test func rtrlDefaultsToAnUpdateWithEveryGradientNonzero() throws {
        let spec = NetworkSpec(inputs: 3, layers: [(.rnn, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        let samples = TestData.samples(spec: spec, lengths: [8, 6], seed: 9)
        let batch = SequenceBatch<Double>(samples, inputSize: 3, outputSize: 3)
        let parameters = spec.initialParameters(seed: 1)
        let algorithm = Algorithm.online(.rtrl, tauB: 1, rfloDecay: 0)
        let first = try #require(GradientCheck.run(spec: spec, parameters: parameters, batch: batch, algorithm: algorithm, step: 1))
        let wt = try #require(first.tensors.first { $0.name == "layers.0.W_t" })
        #expect(wt.scale < 1e-10, "W_t at step 1: \(wt.scale)")
        let report = try #require(GradientCheck.run(spec: spec, parameters: parameters, batch: batch, algorithm: algorithm))
        #expect(report.step == 2 && report.passed, "step \(report.step), ratio \(report.worstRatio)")
        for (name, range) in ParameterLayout(spec).namedTensors(spec).map({ ($0.name, $0.range) }) {
            #expect(range.contains { report.analytic[$0] != 0 }, "\(name) is all zero")
        }
    }
}
