import Foundation
import Testing
import RNNCore
import RNNTestSupport

/// The seed's scalar example: a 2-layer, 1-unit network
/// ```
/// h^1_n = sigma1(SW^1 x_n + TW^1 h^1_{n-1} + b^1)
/// y_n = h^2_n = sigma2(SW^2 h^1_n + TW^2 h^2_{n-1} + b^2)
/// C(y_N) = (y_N - t)²
/// ```
/// whose gradients have closed forms as sums over paths through time:
/// ```
/// dC/dTW^2 = C'(y_N) Σ_{k=1..N} [Π_{j=k+1..N} sigma2'_j TW^2] sigma2'_k h^2_{k-1}
/// dC/dTW^1 = C'(y_N) Σ_{k=1..N} (dy_N/dh^1_k) sigma1'_k h^1_{k-1}
/// dy_N/dh^1_k = Σ_{m=k..N} [Π_{j=m+1..N} sigma2'_j TW^2] sigma2'_m SW^2 [Π_{i=k+1..m} sigma1'_i TW^1]
/// ```
/// The test evaluates these products directly (no delta recursion) and matches the engine to 1e-12.
@Suite("Seed scalar recursion")
struct SeedScalarTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let act1: Activation
        let act2: Activation
        let length: Int
        var testDescription: String { id }
    }

    static let cases = [
        Case(id: "identity/identity N=6 (count-ones network)", act1: .identity, act2: .identity, length: 6),
        Case(id: "tanh/identity N=8", act1: .tanh, act2: .identity, length: 8),
        Case(id: "tanh/sigmoid N=5", act1: .tanh, act2: .sigmoid, length: 5),
        Case(id: "sigmoid/tanh N=1", act1: .sigmoid, act2: .tanh, length: 1),
    ]

    static func derivative(_ a: Activation, _ h: Double) -> Double {
        switch a {
        case .identity: return 1
        case .tanh: return 1 - h * h
        case .sigmoid: return h * (1 - h)
        default: return .nan
        }
    }

    @Test(arguments: cases)
    func closedFormMatchesEngine(_ c: Case) throws {
        let spec = NetworkSpec(inputs: 1, layers: [(.rnn, 1, c.act1), (.rnn, 1, c.act2)], loss: .mse)
        // Layout: SW1, TW1, b1, SW2, TW2, b2.
        let w: [Double] = [0.7, 0.9, 0.1, 1.3, 0.8, -0.2]
        let (sw1, tw1, b1, sw2, tw2, b2) = (w[0], w[1], w[2], w[3], w[4], w[5])
        var rng = Xoshiro256(seed: 42)
        let x = (0..<c.length).map { _ in Double(rng.nextInt(below: 2)) }
        let t = x.reduce(0, +)
        // Forward, keeping h^1_k, h^2_k for k = 0 ... N.
        var h1 = [0.0], h2 = [0.0]
        for n in 1...c.length {
            h1.append(NaiveReference.activate(c.act1, [sw1 * x[n - 1] + tw1 * h1[n - 1] + b1])[0])
            h2.append(NaiveReference.activate(c.act2, [sw2 * h1[n] + tw2 * h2[n - 1] + b2])[0])
        }
        let nN = c.length
        let dC = 2 * (h2[nN] - t)  // mean over one element
        let s1 = (0...nN).map { Self.derivative(c.act1, h1[$0]) }
        let s2 = (0...nN).map { Self.derivative(c.act2, h2[$0]) }
        func prod2(_ from: Int) -> Double {  // Π_{j=from..N} s2_j TW2
            var p = 1.0
            if from <= nN { for j in from...nN { p *= s2[j] * tw2 } }
            return p
        }
        func prod1(_ from: Int, _ to: Int) -> Double {  // Π_{i=from..to} s1_i TW1
            var p = 1.0
            if from <= to { for i in from...to { p *= s1[i] * tw1 } }
            return p
        }
        var dTW2 = 0.0, dTW1 = 0.0
        for k in 1...nN {
            dTW2 += prod2(k + 1) * s2[k] * h2[k - 1]
            var dyDh1 = 0.0
            for m in k...nN { dyDh1 += prod2(m + 1) * s2[m] * sw2 * prod1(k + 1, m) }
            dTW1 += dyDh1 * s1[k] * h1[k - 1]
        }
        dTW2 *= dC
        dTW1 *= dC

        let mask = (0..<c.length).map { $0 == c.length - 1 }
        var targets = [Double](repeating: 0, count: c.length)
        targets[c.length - 1] = t
        let sample = SequenceSample(length: c.length, inputs: .dense(x), targets: .values(targets), mask: mask)
        let updates = engineUpdates(spec: spec, weights: w, samples: [sample], truncation: .full)
        try #require(updates.count == 1)
        let g = updates[0].grad
        #expect(relativeError(g[1], dTW1, floor: 1e-300) < 1e-12, "dC/dTW^1: engine \(g[1]) vs closed form \(dTW1)")
        #expect(relativeError(g[4], dTW2, floor: 1e-300) < 1e-12, "dC/dTW^2: engine \(g[4]) vs closed form \(dTW2)")
    }
}
