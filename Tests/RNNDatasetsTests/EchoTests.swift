import Foundation
import RNNTestSupport
import Testing
import RNNCore
@testable import RNNDatasets

/// One echo setting and its losses, computed in the test by brute force.
struct EchoCase: CustomTestStringConvertible, Sendable {
    let id: String
    let lags: [Int]
    let weights: [Double]
    let base: Double
    var testDescription: String { id }

    var config: DatasetConfig {
        var c = DatasetConfig(kind: .echo)
        c.lags = lags
        c.weights = weights
        c.base = base
        return c
    }

    /// P(y = 1) for a window of past inputs, `window[L - 1] = x_{t - L}`, read straight from the
    /// definition `base + Σ_i weights_i · x_{t − lags_i}` (repeated lags are not merged).
    func probability(_ window: [Int]) -> Double {
        zip(lags, weights).reduce(base) { $0 + $1.1 * Double(window[$1.0 - 1]) }
    }

    /// Every window of `max(lags)` past inputs, each equally likely.
    var windows: [[Int]] {
        let n = lags.max() ?? 0
        return (0..<(1 << n)).map { bits in (0..<n).map { (bits >> $0) & 1 } }
    }

    static func entropy(_ p: Double) -> Double {
        (p > 0 ? -p * log(p) : 0) + (p < 1 ? -(1 - p) * log(1 - p) : 0)
    }

    /// The expected entropy of y over all windows (independent of the descriptor's merged lags).
    var floor: Double { windows.map { Self.entropy(probability($0)) }.reduce(0, +) / Double(windows.count) }

    /// The entropy of the marginal P(y = 1), averaged over all windows.
    var baseline: Double { Self.entropy(windows.map(probability).reduce(0, +) / Double(windows.count)) }
}

@Suite("Echo dataset")
struct EchoTests {
    static let cases: [EchoCase] = [
        EchoCase(id: "defaults (Pitis 2016)", lags: [3, 8], weights: [0.5, -0.25], base: 0.5),
        EchoCase(id: "four terms, a repeated lag", lags: [1, 4, 4, 2], weights: [0.3, -0.2, 0.1, 0.25], base: 0.35),
    ]

    /// SPEC 4 quotes 0.6616 and 0.4544 nats for the defaults: H(0.625) = 0.661563 and
    /// (H(0.5) + H(1) + H(0.25) + H(0.75)) / 4 = 0.454454 (the SPEC cuts the last digit).
    @Test func defaultLossesMatchTheSpec() {
        let c = DatasetConfig(kind: .echo).resolved()
        #expect(c.lags == [3, 8] && c.weights == [0.5, -0.25] && c.base == 0.5)
        #expect(abs(EchoStream.baselineLoss(c) - 0.661563) < 1e-6)
        #expect(abs(EchoStream.floorLoss(c) - 0.454454) < 1e-6)
        #expect(String(format: "%.4f", EchoStream.baselineLoss(c)) == "0.6616")
        #expect(EchoStream.floorLoss(c) >= 0.4544 && EchoStream.floorLoss(c) < 0.4545)
    }

    @Test(arguments: cases)
    func analyticLossesMatchEnumeration(_ e: EchoCase) {
        #expect(abs(EchoStream.floorLoss(e.config) - e.floor) < 1e-12)
        #expect(abs(EchoStream.baselineLoss(e.config) - e.baseline) < 1e-12)
        #expect(e.floor < e.baseline)
        let d = EchoStream.make(e.config, seed: 1)
        #expect(d.baseline?.loss == EchoStream.baselineLoss(e.config))
        #expect(d.floor?.loss == EchoStream.floorLoss(e.config))
    }

    @Test func deterministicFromTheSeed() {
        var c = DatasetConfig(kind: .echo)
        c.train = 500
        c.validation = 100
        for seed in [1, 2, 99] as [UInt64] {
            let a = EchoStream.make(c, seed: seed), b = EchoStream.make(c, seed: seed)
            let other = EchoStream.make(c, seed: seed + 1000)
            #expect(a.train == b.train && a.validation == b.validation, "seed \(seed)")
            #expect(a.train != other.train, "seed \(seed): a different seed gives different data")
        }
    }

    /// Targets start once the history exists, and follow P(y = 1) = base + Σ w·x: on a long
    /// seeded stream the frequency of y = 1 for each input window is within 0.02 of its p.
    @Test(arguments: cases)
    func targetsFollowTheirProbability(_ e: EchoCase) throws {
        var c = e.config
        c.train = 200_000
        c.validation = 0
        let d = EchoStream.make(c, seed: 7)
        let s = try #require(d.train.first)
        guard case .dense(let x) = s.inputs, case .classes(let y) = s.targets else { Issue.record(); return }
        let longest = e.lags.max() ?? 0
        #expect(s.mask == (0..<s.length).map { $0 >= longest })
        #expect(x.allSatisfy { $0 == 0 || $0 == 1 } && y.allSatisfy { $0 == 0 || $0 == 1 })
        var ones: [Double: (hits: Int, count: Int)] = [:]
        for t in longest..<s.length {
            let p = e.probability((1...longest).map { Int(x[t - $0]) })
            let key = (p * 1e9).rounded() / 1e9
            ones[key, default: (0, 0)].count += 1
            if y[t] == 1 { ones[key, default: (0, 0)].hits += 1 }
        }
        for (p, tally) in ones {
            let frequency = Double(tally.hits) / Double(tally.count)
            #expect(abs(frequency - p) < 0.02, "p = \(p): frequency \(frequency) over \(tally.count) steps")
            if p <= 0 || p >= 1 { #expect(frequency == p.rounded(), "p = \(p) is certain") }
        }
    }

    @Test func problemsNameTheirKeys() {
        func problems(_ edit: (inout DatasetConfig) -> Void) -> [DatasetConfigProblem] {
            var c = DatasetConfig(kind: .echo)
            edit(&c)
            return EchoStream.problems(c.resolved())
        }
        #expect(problems { $0.weights = [0.5, 0.25] }.map(\.keys) == [["weights", "base"]])  // reaches 1.25
        #expect(problems { $0.weights = [-0.5, -0.25] }.map(\.keys) == [["weights", "base"]])  // reaches -0.25
        #expect(problems { $0.base = 0.5; $0.weights = [0.5, 0.5]; $0.lags = [3, 3] }.map(\.keys) == [["weights", "base"]])
        #expect(problems { $0.base = 0; $0.weights = [0.5, 0.5] }.isEmpty)  // exactly 1 at most
        #expect(problems { $0.base = 0.5; $0.weights = [0.5, -0.5]; $0.lags = [3, 3] }.isEmpty)  // one lag, weight 0
        #expect(problems { $0.lags = [1, 2, 3] }.map(\.keys) == [["weights", "lags"]])
        #expect(problems { $0.lags = Array(1...21); $0.weights = Array(repeating: 0.01, count: 21) }.map(\.keys) == [["lags"]])
        #expect(problems { $0.lags = Array(1...20); $0.weights = Array(repeating: 0.01, count: 20) }.isEmpty)
        #expect(problems { $0.train = 8 }.map(\.keys) == [["train", "lags"]])
        #expect(problems { $0.validation = 3 }.map(\.keys) == [["validation", "lags"]])
        #expect(problems { $0.validation = 0 }.isEmpty)
    }
}
