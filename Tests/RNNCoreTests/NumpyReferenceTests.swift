import Foundation
import Testing
import RNNCore
import RNNTestSupport

/// The engine against an independent numpy implementation (`Tests/Reference/make_golden.py`):
/// loss and gradient of every update, float64, to 1e-10.
@Suite("numpy reference")
struct NumpyReferenceTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Reference/make_golden.py")

    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let inputs: Int
        let layers: [(LayerKind, Int, Activation)]
        let loss: Loss
        let lengths: [Int]
        let tauB: Int?
        let tauMax: Int?
        var testDescription: String { id }
    }

    static let cases: [Case] = [
        Case(id: "rnn-tanh + dense-softmax, CE, full", inputs: 3, layers: [(.rnn, 4, .tanh), (.dense, 3, .softmax)],
             loss: .crossEntropy, lengths: [6, 6], tauB: nil, tauMax: nil),
        Case(id: "rnn, rnn, dense-identity, mse, BPTT(2,5), ragged", inputs: 2,
             layers: [(.rnn, 3, .tanh), (.rnn, 3, .relu), (.dense, 2, .identity)],
             loss: .mse, lengths: [11, 8, 10], tauB: 2, tauMax: 5),
        Case(id: "rnn-sigmoid output, BCE, BPTT(3,3)", inputs: 2, layers: [(.rnn, 3, .tanh), (.rnn, 2, .sigmoid)],
             loss: .binaryCrossEntropy, lengths: [9, 9], tauB: 3, tauMax: 3),
    ] + gatedCases + indrnnCases

    /// indrnn (element-wise recurrence): alone under a dense softmax, in stacks with rnn and gru
    /// layers, as the output layer (mse; softmax with cross-entropy), truncated and full.
    static let indrnnCases: [Case] = [
        Case(id: "indrnn + dense-softmax, CE, BPTT(2,5), ragged", inputs: 3, layers: [(.indrnn, 4, .tanh), (.dense, 3, .softmax)],
             loss: .crossEntropy, lengths: [11, 8, 10], tauB: 2, tauMax: 5),
        Case(id: "rnn, indrnn-relu, dense-identity, mse, BPTT(3,4), ragged", inputs: 2,
             layers: [(.rnn, 3, .tanh), (.indrnn, 4, .relu), (.dense, 2, .identity)],
             loss: .mse, lengths: [12, 9], tauB: 3, tauMax: 4),
        Case(id: "gru, indrnn output layer, mse, BPTT(1,3)", inputs: 2, layers: [(.gru, 3, .tanh), (.indrnn, 2, .tanh)],
             loss: .mse, lengths: [9, 9], tauB: 1, tauMax: 3),
        Case(id: "indrnn, indrnn-softmax output, CE, full", inputs: 2, layers: [(.indrnn, 5, .tanh), (.indrnn, 3, .softmax)],
             loss: .crossEntropy, lengths: [10, 7], tauB: nil, tauMax: nil),
        Case(id: "indrnn-sigmoid output, BCE, BPTT(2,2)", inputs: 3, layers: [(.indrnn, 2, .sigmoid)],
             loss: .binaryCrossEntropy, lengths: [8, 8], tauB: 2, tauMax: 2),
    ]

    /// LSTM and GRU: a (tau_b, tau_max) grid on ragged lanes, stacks with rnn and dense layers,
    /// a gated output layer (mse).
    static let gatedCases: [Case] = {
        var cases: [Case] = []
        let grid: [(Int?, Int?)] = [(nil, nil), (1, 1), (1, 3), (2, 2), (2, 5), (3, 4), (4, 4), (3, 7)]
        for (tb, tm) in grid {
            let t = tm.map { "BPTT(\(tb ?? $0),\($0))" } ?? "full"
            cases.append(Case(id: "lstm + dense-softmax, CE, \(t), ragged", inputs: 3,
                              layers: [(.lstm, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy,
                              lengths: [10, 7, 9], tauB: tb, tauMax: tm))
            cases.append(Case(id: "gru + dense-identity, mse, \(t), ragged", inputs: 2,
                              layers: [(.gru, 4, .tanh), (.dense, 2, .identity)], loss: .mse,
                              lengths: [10, 8, 9], tauB: tb, tauMax: tm))
        }
        cases += [
            Case(id: "gru, lstm, dense-softmax, CE, BPTT(2,5), ragged", inputs: 2,
                 layers: [(.gru, 3, .tanh), (.lstm, 3, .tanh), (.dense, 3, .softmax)],
                 loss: .crossEntropy, lengths: [11, 8, 10], tauB: 2, tauMax: 5),
            Case(id: "rnn, lstm, dense-sigmoid, BCE, BPTT(3,3)", inputs: 2,
                 layers: [(.rnn, 3, .tanh), (.lstm, 3, .tanh), (.dense, 2, .sigmoid)],
                 loss: .binaryCrossEntropy, lengths: [9, 9], tauB: 3, tauMax: 3),
            Case(id: "lstm, gru output layer, mse, BPTT(1,3), ragged", inputs: 2,
                 layers: [(.lstm, 3, .tanh), (.gru, 2, .tanh)], loss: .mse, lengths: [8, 6], tauB: 1, tauMax: 3),
            Case(id: "dense, gru, rnn-softmax, CE, BPTT(4,6)", inputs: 3,
                 layers: [(.dense, 3, .tanh), (.gru, 4, .tanh), (.rnn, 3, .softmax)],
                 loss: .crossEntropy, lengths: [12, 12], tauB: 4, tauMax: 6),
        ]
        return cases
    }()

    @Test(arguments: cases)
    func engineMatchesNumpy(_ c: Case) throws {
        let spec = NetworkSpec(inputs: c.inputs, layers: c.layers, loss: c.loss)
        let weights = spec.initialParameters(seed: 21)
        let samples = TestData.samples(spec: spec, lengths: c.lengths, seed: 8)
        let reference = try runNumpy(spec: spec, weights: weights, samples: samples, tauB: c.tauB ?? 0,
                                     tauMax: c.tauMax ?? 0, creditLags: 0)

        let updates = engineUpdates(spec: spec, weights: weights, samples: samples,
                                    truncation: Truncation(tauB: c.tauB, tauMax: c.tauMax))
        try #require(updates.count == reference.count, "\(updates.count) updates vs numpy \(reference.count)")
        for (u, r) in zip(updates, reference) {
            #expect(u.n == r["n"] as? Int)
            #expect(u.elements == r["elements"] as? Int)
            let loss = try #require(r["loss"] as? Double)
            #expect(relativeError(u.loss, loss) < 1e-10, "loss at n=\(u.n)")
            let grad = try #require(r["grad"] as? [Double])
            let worst = worstRelativeError(u.grad, grad, floor: 1e-12)
            #expect(worst.error < 1e-10, "n=\(u.n): parameter \(worst.index) engine \(u.grad[worst.index]) vs numpy \(grad[worst.index])")
        }
    }
}
