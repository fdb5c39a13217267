import Foundation
import Testing
import RNNCore
import RNNTestSupport

/// Gradient diagnostics (SPEC 3.1): `g_ref` and the credit profile against an independent numpy
/// computation (`Tests/Reference/make_golden.py`, run once with tau_max for `g` and once with the
/// reference horizon for `g_ref` and the credit), `g == g_ref` without truncation, the linear
/// unit's geometric credit, and training bit-identical with or without diagnostics.
@Suite("gradient diagnostics")
struct GradientDiagnosticsTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let inputs: Int
        let layers: [(LayerKind, Int, Activation)]
        let loss: Loss
        let lengths: [Int]
        let targetEvery: Int
        let tauB: Int
        let tauMax: Int?
        let reference: Int?  // nil = full
        let creditLags: Int
        var testDescription: String { id }
    }

    // MARK: - numpy

    static let numpyCases: [Case] = [
        Case(id: "rnn, rnn, dense-identity, mse, BPTT(2,4), ragged, targets every 3, reference full", inputs: 2,
             layers: [(.rnn, 3, .tanh), (.rnn, 3, .relu), (.dense, 2, .identity)], loss: .mse,
             lengths: [13, 9, 11], targetEvery: 3, tauB: 2, tauMax: 4, reference: nil, creditLags: 8),
        Case(id: "rnn, rnn-tanh, mse, BPTT(2,3), ragged, targets every 2, reference 7", inputs: 2,
             layers: [(.rnn, 4, .tanh), (.rnn, 2, .tanh)], loss: .mse,
             lengths: [14, 10, 12], targetEvery: 2, tauB: 2, tauMax: 3, reference: 7, creditLags: 9),
        Case(id: "rnn-tanh + dense-softmax, CE, BPTT(3,3), ragged, targets every 2, reference full", inputs: 3,
             layers: [(.rnn, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy,
             lengths: [12, 8, 10], targetEvery: 2, tauB: 3, tauMax: 3, reference: nil, creditLags: 12),
        Case(id: "rnn, rnn-softmax output, CE, BPTT(2,4), reference 6", inputs: 2,
             layers: [(.rnn, 3, .tanh), (.rnn, 3, .softmax)], loss: .crossEntropy,
             lengths: [12, 12], targetEvery: 1, tauB: 2, tauMax: 4, reference: 6, creditLags: 7),
        Case(id: "rnn, rnn-sigmoid output, BCE, BPTT(3,3), ragged, reference full", inputs: 2,
             layers: [(.rnn, 3, .tanh), (.rnn, 2, .sigmoid)], loss: .binaryCrossEntropy,
             lengths: [10, 7], targetEvery: 2, tauB: 3, tauMax: 3, reference: nil, creditLags: 5),
        Case(id: "lstm + dense-identity, mse, BPTT(2,3), ragged, targets every 2, reference full", inputs: 3,
             layers: [(.lstm, 4, .tanh), (.dense, 2, .identity)], loss: .mse,
             lengths: [12, 9, 11], targetEvery: 2, tauB: 2, tauMax: 3, reference: nil, creditLags: 10),
        Case(id: "gru, lstm, dense-softmax, CE, BPTT(2,3), ragged, reference 8", inputs: 2,
             layers: [(.gru, 3, .tanh), (.lstm, 3, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy,
             lengths: [13, 9, 12], targetEvery: 3, tauB: 2, tauMax: 3, reference: 8, creditLags: 9),
        Case(id: "dense, gru output layer, mse, BPTT(1,2), reference full", inputs: 2,
             layers: [(.dense, 3, .tanh), (.gru, 2, .tanh)], loss: .mse,
             lengths: [9, 7], targetEvery: 2, tauB: 1, tauMax: 2, reference: nil, creditLags: 6),
        Case(id: "indrnn + dense-softmax, CE, BPTT(2,3), ragged, targets every 2, reference full", inputs: 3,
             layers: [(.indrnn, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy,
             lengths: [12, 8, 10], targetEvery: 2, tauB: 2, tauMax: 3, reference: nil, creditLags: 10),
        Case(id: "rnn, indrnn-identity output, mse, BPTT(1,2), reference 7", inputs: 2,
             layers: [(.rnn, 3, .tanh), (.indrnn, 2, .identity)], loss: .mse,
             lengths: [11, 9], targetEvery: 3, tauB: 1, tauMax: 2, reference: 7, creditLags: 8),
        // lru: the credit of its complex state s (|[Re δ; Im δ]|), not of h.
        Case(id: "lru + dense-softmax, CE, BPTT(2,4), ragged, reference full", inputs: 3,
             layers: [(.lru, 4, .identity), (.dense, 3, .softmax)], loss: .crossEntropy,
             lengths: [12, 8, 10], targetEvery: 2, tauB: 2, tauMax: 4, reference: nil, creditLags: 10),
        Case(id: "rnn, lru with D, dense-identity, mse, BPTT(1,3), reference 7", inputs: 2,
             layers: [(.rnn, 3, .tanh), (.lru, 3, .identity), (.dense, 2, .identity)], loss: .mse,
             lengths: [11, 9], targetEvery: 2, tauB: 1, tauMax: 3, reference: 7, creditLags: 8),
    ]

    @Test(arguments: numpyCases)
    func referenceAndCreditMatchNumpy(_ c: Case) throws {
        let spec = NetworkSpec(inputs: c.inputs, layers: c.layers, loss: c.loss)
        let weights = spec.initialParameters(seed: 33)
        let samples = TestData.samples(spec: spec, lengths: c.lengths, seed: 12, targetEvery: c.targetEvery)
        let truncated = try runNumpy(spec: spec, weights: weights, samples: samples, tauB: c.tauB, tauMax: c.tauMax ?? 0,
                                     creditLags: 0)
        let reference = try runNumpy(spec: spec, weights: weights, samples: samples, tauB: c.tauB,
                                     tauMax: c.reference ?? 0, creditLags: c.creditLags)
        let diagnostics = GradientDiagnostics(gradientEvery: 1, referenceTauMax: c.reference, creditLags: c.creditLags)
        let engine = diagnosedUpdates(Double.self, spec: spec, weights: weights, samples: [samples],
                                      truncation: Truncation(tauB: c.tauB, tauMax: c.tauMax), diagnostics: diagnostics,
                                      optimizer: OptimizerSettings(name: .sgd, lr: 0))
        try #require(engine.diagnostics.count == truncated.count && truncated.count == reference.count,
                     "\(engine.diagnostics.count) sampled updates vs numpy \(truncated.count) / \(reference.count)")
        var truncationMattered = false
        for (d, (g, r)) in zip(engine.diagnostics, zip(truncated, reference)) {
            #expect(d.step == g["n"] as? Int && d.step == r["n"] as? Int)
            let gNumpy = try #require(g["grad"] as? [Double]), rNumpy = try #require(r["grad"] as? [Double])
            let gWorst = worstRelativeError(d.gradient, gNumpy, floor: 1e-12)
            #expect(gWorst.error < 1e-10, "g, n=\(d.step): parameter \(gWorst.index) engine \(d.gradient[gWorst.index]) vs numpy \(gNumpy[gWorst.index])")
            let rWorst = worstRelativeError(d.reference, rNumpy, floor: 1e-12)
            #expect(rWorst.error < 1e-10, "g_ref, n=\(d.step): parameter \(rWorst.index) engine \(d.reference[rWorst.index]) vs numpy \(rNumpy[rWorst.index])")
            if worstRelativeError(d.gradient, d.reference, floor: 1e-12).error > 1e-6 { truncationMattered = true }
            #expect(d.referenceStart == max(1, d.step - (c.reference ?? d.step) + 1))
            // Credit.
            #expect(d.creditStep == r["t"] as? Int, "t at n=\(d.step)")
            let credit = try #require(d.credit)
            let numpyCredit = try #require(r["credit"] as? [[Any]])
            try #require(credit.count == spec.layers.count && numpyCredit.count == spec.layers.count)
            for l in 0..<spec.layers.count {
                try #require(credit[l].count == c.creditLags + 1 && numpyCredit[l].count == c.creditLags + 1)
                for k in 0...c.creditLags {
                    let mine = credit[l][k]
                    if let value = numpyCredit[l][k] as? Double {
                        #expect(relativeError(mine, value, floor: 1e-12) < 1e-10,
                                "credit n=\(d.step) t=\(d.creditStep ?? -1) layer \(l) lag \(k): engine \(mine) vs numpy \(value)")
                    } else {
                        #expect(mine.isNaN, "credit n=\(d.step) layer \(l) lag \(k): engine \(mine), numpy null (outside the horizon)")
                    }
                }
            }
        }
        #expect(truncationMattered, "the case should truncate: g == g_ref at every update")
    }

    // MARK: - Untruncated: g == g_ref bit for bit

    static let untruncatedCases: [Case] = [
        Case(id: "rnn, dense-softmax, CE, full", inputs: 3, layers: [(.rnn, 5, .tanh), (.dense, 3, .softmax)],
             loss: .crossEntropy, lengths: [12, 9, 11], targetEvery: 2, tauB: 12, tauMax: nil, reference: nil, creditLags: 4),
        Case(id: "rnn, rnn-identity, mse, BPTT(3, full), reference 20", inputs: 2,
             layers: [(.rnn, 4, .tanh), (.rnn, 2, .identity)], loss: .mse, lengths: [12, 10],
             targetEvery: 1, tauB: 3, tauMax: nil, reference: 20, creditLags: 0),
        Case(id: "lstm, dense-sigmoid, BCE, BPTT(4, 12)", inputs: 2, layers: [(.lstm, 4, .tanh), (.dense, 2, .sigmoid)],
             loss: .binaryCrossEntropy, lengths: [12, 8], targetEvery: 3, tauB: 4, tauMax: 12, reference: nil, creditLags: 3),
        Case(id: "gru, rnn-identity, mse, BPTT(5, 15)", inputs: 2, layers: [(.gru, 3, .tanh), (.rnn, 2, .identity)],
             loss: .mse, lengths: [11, 11], targetEvery: 1, tauB: 5, tauMax: 15, reference: nil, creditLags: 2),
    ]

    @Test(arguments: untruncatedCases)
    func referenceEqualsGradientWithoutTruncation(_ c: Case) throws {
        let spec = NetworkSpec(inputs: c.inputs, layers: c.layers, loss: c.loss)
        let weights = spec.initialParameters(seed: 5)
        let samples = TestData.samples(spec: spec, lengths: c.lengths, seed: 3, targetEvery: c.targetEvery)
        let diagnostics = GradientDiagnostics(gradientEvery: 1, referenceTauMax: c.reference, creditLags: c.creditLags)
        let truncation = Truncation(tauB: c.tauB, tauMax: c.tauMax)
        let settings = OptimizerSettings(name: .adam, lr: 0.01)
        for float in [false, true] {
            let run = float
                ? diagnosedUpdates(Float.self, spec: spec, weights: weights, samples: [samples, samples], truncation: truncation,
                                   diagnostics: diagnostics, optimizer: settings)
                : diagnosedUpdates(Double.self, spec: spec, weights: weights, samples: [samples, samples], truncation: truncation,
                                   diagnostics: diagnostics, optimizer: settings)
            try #require(!run.diagnostics.isEmpty)
            for d in run.diagnostics {
                #expect(d.gradient == d.reference, "\(float ? "float32" : "float64") update \(d.update), n=\(d.step): g != g_ref")
                #expect(d.gradient.map(\.bitPattern) == d.reference.map(\.bitPattern))
                #expect(d.comparison().relBias == 0)
            }
        }
    }

    // MARK: - The seed's linear unit

    /// One identity rnn unit with mse: `dC_t/dh_{t-k} = TW^k dC_t/dh_t`, so the credit at lag k is
    /// `|TW|^k` times the credit at lag 0; NaN before the sequence start.
    @Test(arguments: [0.9, -0.6, 1.1])
    func linearUnitCreditIsGeometric(tw: Double) throws {
        let spec = NetworkSpec(inputs: 1, layers: [(.rnn, 1, .identity)], loss: .mse)
        let layout = ParameterLayout(spec)
        var weights = spec.initialParameters(seed: 2)
        let twIndex = try #require(layout.entries[0].tw)
        weights[twIndex] = tw
        let samples = TestData.samples(spec: spec, lengths: [16, 16], seed: 4, targetEvery: 4)
        let lags = 20
        let run = diagnosedUpdates(Double.self, spec: spec, weights: weights, samples: [samples],
                                   truncation: Truncation(tauB: 4, tauMax: 4),
                                   diagnostics: GradientDiagnostics(gradientEvery: 1, creditLags: lags),
                                   optimizer: OptimizerSettings(name: .sgd, lr: 0))
        try #require(run.diagnostics.count == 4)
        for d in run.diagnostics {
            let credit = try #require(d.credit?.first)
            let t = try #require(d.creditStep)
            #expect(t == d.step)
            #expect(credit[0] > 0)
            for k in 0...lags {
                if t - k >= 1 {
                    let expected = Foundation.pow(abs(tw), Double(k)) * credit[0]
                    #expect(relativeError(credit[k], expected, floor: 1e-300) < 1e-12, "n=\(d.step) lag \(k): \(credit[k]) vs \(expected)")
                } else {
                    #expect(credit[k].isNaN, "n=\(d.step) lag \(k) is before the sequence start")
                }
            }
        }
    }

    // MARK: - Training is unchanged

    static let identityCases: [Case] = [
        Case(id: "rnn, dense-softmax, CE, BPTT(2,4), reference full", inputs: 3,
             layers: [(.rnn, 6, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy,
             lengths: [14, 9, 12, 14], targetEvery: 2, tauB: 2, tauMax: 4, reference: nil, creditLags: 10),
        Case(id: "rnn, rnn-identity, mse, BPTT(3,3), reference 7", inputs: 2,
             layers: [(.rnn, 5, .tanh), (.rnn, 2, .identity)], loss: .mse,
             lengths: [15, 15, 11], targetEvery: 1, tauB: 3, tauMax: 3, reference: 7, creditLags: 6),
        Case(id: "lstm, dense-identity, mse, BPTT(2,5), reference full", inputs: 3,
             layers: [(.lstm, 5, .tanh), (.dense, 2, .identity)], loss: .mse,
             lengths: [13, 10, 13], targetEvery: 3, tauB: 2, tauMax: 5, reference: nil, creditLags: 12),
        Case(id: "gru, lstm, dense-sigmoid, BCE, BPTT(1,3), reference 9", inputs: 2,
             layers: [(.gru, 4, .tanh), (.lstm, 3, .tanh), (.dense, 2, .sigmoid)], loss: .binaryCrossEntropy,
             lengths: [12, 8, 12], targetEvery: 2, tauB: 1, tauMax: 3, reference: 9, creditLags: 4),
    ]

    /// Adam with clipping over several batches of different shapes: parameters, losses and every
    /// update's g bit-identical with diagnostics off, sampled every 3rd update, and every update.
    @Test(arguments: identityCases)
    func trainingIsBitIdenticalWithDiagnostics(_ c: Case) throws {
        let spec = NetworkSpec(inputs: c.inputs, layers: c.layers, loss: c.loss)
        let weights = spec.initialParameters(seed: 9)
        let batches = (0..<4).map { seed in
            TestData.samples(spec: spec, lengths: c.lengths.map { $0 - seed % 2 }, seed: UInt64(40 + seed),
                             targetEvery: c.targetEvery)
        }
        let truncation = Truncation(tauB: c.tauB, tauMax: c.tauMax)
        let settings = OptimizerSettings(name: .adam, lr: 0.05)
        let variants = [GradientDiagnostics(),
                        GradientDiagnostics(gradientEvery: 3, referenceTauMax: c.reference, creditLags: 0),
                        GradientDiagnostics(gradientEvery: 1, referenceTauMax: c.reference, creditLags: c.creditLags),
                        GradientDiagnostics(gradientEvery: 0, referenceTauMax: c.reference, creditLags: c.creditLags)]
        func check<S: RNNScalar>(_: S.Type) {
            let runs = variants.map {
                diagnosedUpdates(S.self, spec: spec, weights: weights, samples: batches, truncation: truncation,
                                 diagnostics: $0, optimizer: settings, clipNorm: 0.5)
            }
            let off = runs[0]
            #expect(off.diagnostics.isEmpty)
            #expect(off.updates > 8)
            for (variant, run) in zip(variants, runs).dropFirst() {
                let name = "\(S.self), every \(variant.gradientEvery), credit \(variant.creditLags)"
                #expect(run.parameters.map(\.bitPattern) == off.parameters.map(\.bitPattern), "\(name): parameters differ")
                #expect(run.results == off.results, "\(name): batch results differ")
                #expect(run.gradients == off.gradients, "\(name): an update's g differs")
                let expected = (1...off.updates).filter { variant.samples(update: $0) }
                #expect(run.diagnostics.map(\.update) == expected, "\(name): sampled updates")
                for d in run.diagnostics {
                    #expect(d.gradient == run.gradients[d.update - 1], "\(name): diagnostics g of update \(d.update)")
                    #expect((d.credit != nil) == (variant.creditLags > 0))
                }
            }
        }
        check(Float.self)
        check(Double.self)
    }

    /// One-hot inputs (the first layer's `SW` columns, and `SWᵀ` rows for gated layers): g == g_ref
    /// untruncated, and training unchanged by diagnostics, float32 and float64.
    @Test(arguments: [LayerKind.rnn, .lstm, .gru, .indrnn])
    func oneHotInputs(kind: LayerKind) throws {
        let spec = NetworkSpec(inputs: 5, layers: [(kind, 4, .tanh), (.dense, 5, .softmax)], loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 17)
        let batches = (0..<3).map { TestData.samples(spec: spec, lengths: [10, 7, 9], seed: UInt64(60 + $0), oneHot: true) }
        let settings = OptimizerSettings(name: .adam, lr: 0.05)
        func check<S: RNNScalar>(_: S.Type) {
            for truncation in [Truncation(tauB: 3), Truncation(tauB: 2, tauMax: 3)] {
                let off = diagnosedUpdates(S.self, spec: spec, weights: weights, samples: batches, truncation: truncation,
                                           diagnostics: GradientDiagnostics(), optimizer: settings, clipNorm: 1)
                let on = diagnosedUpdates(S.self, spec: spec, weights: weights, samples: batches, truncation: truncation,
                                          diagnostics: GradientDiagnostics(gradientEvery: 1, creditLags: 6),
                                          optimizer: settings, clipNorm: 1)
                #expect(on.parameters.map(\.bitPattern) == off.parameters.map(\.bitPattern), "\(S.self) \(truncation)")
                #expect(on.results == off.results && on.gradients == off.gradients, "\(S.self) \(truncation)")
                #expect(on.diagnostics.count == off.updates)
                if truncation.tauMax == nil {
                    #expect(on.diagnostics.allSatisfy { $0.gradient == $0.reference }, "\(S.self): g != g_ref untruncated")
                } else {
                    #expect(on.diagnostics.contains { $0.gradient != $0.reference }, "\(S.self): truncation should show")
                }
            }
        }
        check(Float.self)
        check(Double.self)
    }

    // MARK: - Sampling and the comparison

    @Test func samplingCountsOptimizerStepsOverTheTrainersLife() {
        let d = GradientDiagnostics(gradientEvery: 4)
        #expect((1...13).filter { d.samples(update: $0) } == [1, 5, 9, 13])
        #expect(!GradientDiagnostics().samples(update: 1))
        #expect(GradientDiagnostics(creditLags: 3).sampleInterval == 1)
        #expect(GradientDiagnostics(gradientEvery: 2, creditLags: 3).sampleInterval == 2)
    }

    @Test func comparisonFollowsTheSpecFormulas() throws {
        let d = UpdateDiagnostics(update: 1, step: 4, previousStep: 0, windowStart: 2, referenceStart: 1,
                                  gradient: [3, 0, 1, 0], reference: [3, 4, 0, 0], creditStep: nil, credit: nil)
        let all = d.comparison()
        #expect(abs(all.norm - 10.0.squareRoot()) < 1e-15)
        #expect(all.referenceNorm == 5)
        #expect(abs(try #require(all.cos) - 9 / (10.0.squareRoot() * 5)) < 1e-15)
        #expect(abs(try #require(all.relBias) - 17.0.squareRoot() / 5) < 1e-15)
        let last = d.comparison(over: 3..<4)
        #expect(last.cos == nil && last.relBias == nil && last.norm == 0)
        let mixed = d.comparison(over: 2..<4)
        #expect(mixed.cos == nil && mixed.relBias == nil && mixed.norm == 1)
    }
}

// MARK: - Helpers

/// Trains `samples` (one batch each) with `diagnostics`; returns the parameters, every batch
/// result, every update's g (float64) and the diagnostics of sampled updates.
func diagnosedUpdates<S: RNNScalar>(_: S.Type, spec: NetworkSpec, weights: [Double], samples: [[SequenceSample]],
                                    truncation: Truncation, diagnostics: GradientDiagnostics,
                                    optimizer: OptimizerSettings, clipNorm: Double? = nil)
    -> (parameters: [Double], results: [BatchResult], gradients: [[Double]], diagnostics: [UpdateDiagnostics], updates: Int)
{
    let trainer = TruncatedBPTT<S>(spec: spec, parameters: weights, truncation: truncation, optimizer: optimizer,
                                   clipNorm: clipNorm, diagnostics: diagnostics)
    var results: [BatchResult] = []
    var gradients: [[Double]] = []
    var sampled: [UpdateDiagnostics] = []
    for batchSamples in samples {
        let batch = SequenceBatch<S>(batchSamples, inputSize: spec.inputs, outputSize: spec.outputs)
        results.append(trainer.train(batch) { event in
            gradients.append(event.gradients.map { Double($0) })
            if let d = event.diagnostics { sampled.append(d) }
        })
    }
    return (trainer.parameters, results, gradients, sampled, trainer.updates)
}

/// Runs `make_golden.py` on one batch at learning rate 0: every update's loss and gradient for
/// BPTT(tau_b, tau_max) (0 = full), plus `t` and the credit profile when `creditLags > 0`.
func runNumpy(spec: NetworkSpec, weights: [Double], samples: [SequenceSample], tauB: Int, tauMax: Int,
              creditLags: Int) throws -> [[String: Any]] {
    var json = try referenceCase(spec: spec, weights: weights, samples: samples)
    json["tau_b"] = tauB
    json["tau_max"] = tauMax
    if creditLags > 0 { json["credit_lags"] = creditLags }
    return try #require(runReferenceScript(NumpyReferenceTests.script, case: json)[0] as? [[String: Any]])
}
