import Foundation
import Testing
@testable import RNNCore
import RNNTestSupport

/// rflo with random feedback (SPEC 3.5, Murray 2019): a fixed matrix `B_fb` per readout layer,
/// drawn from the run's seed, replaces the readout's weights in the error sent to the top
/// recurrent layer; the readout's own gradient stays exact.
@Suite("rflo: random feedback")
struct RFLOFeedbackTests {
    static let spec = NetworkSpec(inputs: 2, layers: [(.rnn, 4, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)

    /// `B_fb` has the readout's `W_s` shape, initial-weight scale, and is a pure function of the
    /// seed (so a checkpoint needs none of it).
    @Test func matricesArePureFunctionsOfTheSeed() {
        let a = RFLOFeedback.randomMatrices(spec: Self.spec, seed: 3)
        #expect(Array(a.keys) == [1] && a[1]?.count == 3 * 4)
        #expect(a == RFLOFeedback.randomMatrices(spec: Self.spec, seed: 3))
        #expect(a != RFLOFeedback.randomMatrices(spec: Self.spec, seed: 4))
        #expect(a[1]!.allSatisfy { abs($0) <= 1 / 3.0.squareRoot() })
        let stacked = NetworkSpec(inputs: 2, layers: [(.rnn, 4, .tanh), (.dense, 5, .tanh), (.dense, 3, .softmax)], loss: .crossEntropy)
        #expect(RFLOFeedback.randomMatrices(spec: stacked, seed: 3).mapValues(\.count) == [1: 20, 2: 15])
    }

    /// Random feedback changes the recurrent layer's gradient, not the readout's own gradient at
    /// the first update (its error does not go through the feedback), and symmetric feedback is
    /// the plain rflo.
    @Test func feedbackChangesOnlyWhatReachesTheRecurrentLayer() throws {
        let weights = Self.spec.initialParameters(seed: 8).map { $0 * 2 }
        let samples = TestData.samples(spec: Self.spec, lengths: [7, 6], seed: 5, targetEvery: 1)
        func run(_ feedback: RFLOFeedback) throws -> [OnlineUpdateRecord] {
            try onlineUpdates(Double.self, spec: Self.spec, algorithm: .rflo, weights: weights, samples: samples, tauB: 2,
                              lr: 0.1, rfloDecay: 0.5, rfloFeedback: feedback, seed: 11).updates
        }
        let symmetric = try run(.symmetric), random = try run(.random)
        let plain = try onlineUpdates(Double.self, spec: Self.spec, algorithm: .rflo, weights: weights, samples: samples,
                                      tauB: 2, lr: 0.1, rfloDecay: 0.5, seed: 11).updates
        #expect(symmetric.map(\.grad) == plain.map(\.grad))
        let layout = ParameterLayout(Self.spec)
        let recurrent = 0..<layout.entries[1].sw, readout = layout.entries[1].sw..<layout.count
        let first = (symmetric[0].grad, random[0].grad)
        #expect(Array(first.0[readout]) == Array(first.1[readout]), "the readout's own first gradient is exact either way")
        #expect(normRelative(Array(first.1[recurrent]), Array(first.0[recurrent])) > 0.05, "feedback must change the recurrent gradient")
    }

    /// Random feedback needs a dense readout to replace.
    @Test func aRecurrentTopHasNoReadoutToReplace() {
        let top = NetworkSpec(inputs: 2, layers: [(.rnn, 4, .tanh), (.rnn, 2, .sigmoid)], loss: .binaryCrossEntropy)
        let problem = Algorithm.online(.rflo, tauB: 1, rfloDecay: 0, rfloFeedback: .random).problem(with: top)
        #expect(problem?.contains("add a dense readout layer on top") == true, "\(problem ?? "nil")")
        #expect(Algorithm.online(.rflo, tauB: 1, rfloDecay: 0).problem(with: top) == nil)
    }
}

extension RFLOFeedbackTests {
    /// Against the numpy reference (`online_reference.py`'s `rflo_feedback`, written from SPEC
    /// 3.5 alone, given this seed's `B_fb`): every update's loss and gradient with SGD between
    /// updates, float64, to 1e-10, on one and on two readout layers.
    @Test(arguments: [
        [(LayerKind.rnn, 4, Activation.tanh), (.dense, 3, .softmax)],
        [(.rnn, 3, .tanh), (.dense, 3, .tanh), (.rnn, 4, .tanh), (.dense, 3, .tanh), (.dense, 3, .softmax)],
    ] as [[(LayerKind, Int, Activation)]])
    func randomFeedbackMatchesNumpy(_ layers: [(LayerKind, Int, Activation)]) throws {
        let spec = NetworkSpec(inputs: 2, layers: layers, loss: .crossEntropy)
        let weights = spec.initialParameters(seed: 31).map { $0 * 2.5 }
        let samples = TestData.samples(spec: spec, lengths: [9, 6, 8], seed: 17, targetEvery: 2)
        let seed: UInt64 = 77
        let ours = try onlineUpdates(Double.self, spec: spec, algorithm: .rflo, weights: weights, samples: samples, tauB: 2,
                                     lr: 0.3, rfloDecay: 0.4, rfloFeedback: .random, seed: seed).updates
        var json = try referenceCase(spec: spec, weights: weights, samples: samples)
        json["algorithm"] = "rflo"
        json["tau_b"] = 2
        json["lr"] = 0.3
        json["rflo_decay"] = 0.4
        var matrices: [String: [[Double]]] = [:]
        for (l, values) in RFLOFeedback.randomMatrices(spec: spec, seed: seed) {
            let i = spec.layers[l].inputs
            matrices[String(l)] = (0..<spec.layers[l].units).map { Array(values[($0 * i)..<(($0 + 1) * i)]) }
        }
        json["rflo_feedback"] = ["layers": matrices]
        let reference = try OnlineReference.run(json).updates
        expectSameUpdates(ours, reference, tolerance: 1e-10, "rflo random feedback, \(layers.count) layers")
    }
}
