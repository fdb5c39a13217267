import Foundation
import Testing
@testable import RNNCore
import RNNTestSupport

/// The float32 polynomial kernels against float64 libm, over their whole useful range.
@Suite("FastMath (float32)")
struct FastMathTests {
    static func grid(_ lo: Float, _ hi: Float, _ n: Int) -> [Float] {
        (0...n).map { lo + (hi - lo) * Float($0) / Float(n) } + [0, -0.0, 0.625, -0.625, 1e-8, -1e-8]
    }

    @Test func expIsAccurate() {
        var worst = 0.0
        for x in Self.grid(-87, 88, 200_000) {
            let e = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(FastMath.exp(x)) - e) / e)
        }
        #expect(worst < 4e-7, "worst relative error \(worst)")
    }

    @Test func tanhAndSigmoidAreAccurate() {
        let grid = Self.grid(-30, 30, 200_000)
        var t = grid
        t.withUnsafeMutableBufferPointer { Float.tanhInPlace($0.baseAddress!, count: grid.count) }
        var s = grid
        s.withUnsafeMutableBufferPointer { Float.sigmoidInPlace($0.baseAddress!, count: grid.count) }
        let worstTanh = zip(grid, t).map { abs(Double($1) - Foundation.tanh(Double($0))) }.max()!
        let worstSigmoid = zip(grid, s).map { abs(Double($1) - 1 / (1 + Foundation.exp(-Double($0)))) }.max()!
        #expect(worstTanh < 3e-7, "tanh: worst absolute error \(worstTanh)")
        #expect(worstSigmoid < 3e-7, "sigmoid: worst absolute error \(worstSigmoid)")
        // Saturation and odd symmetry.
        var edges: [Float] = [100, -100, 0, .infinity, -.infinity]
        edges.withUnsafeMutableBufferPointer { Float.tanhInPlace($0.baseAddress!, count: 5) }
        #expect(edges == [1, -1, 0, 1, -1])
        #expect(FastMath.sigmoid(-200) >= 0 && FastMath.sigmoid(200) == 1 && FastMath.exp(-.infinity) >= 0)
    }

    /// The in-place kernels the engine calls (C, AVX2+FMA where available) against float64 libm,
    /// vector bodies and scalar tails alike.
    @Test func engineKernelsAreAccurate() {
        for n in [1, 7, 8, 9, 33, 1000] {
            let x = (0..<n).map { Float($0) * (60 / Float(max(n, 2))) - 30 + 0.013 }
            var t = x
            t.withUnsafeMutableBufferPointer { Float.tanhInPlace($0.baseAddress!, count: n) }
            let worstTanh = zip(x, t).map { abs(Double($1) - Foundation.tanh(Double($0))) }.max()!
            #expect(worstTanh < 3e-7, "n=\(n): tanh worst absolute error \(worstTanh)")
            var e = x.map { $0 / 10 }
            let shift: Float = 0.5
            let sum = e.withUnsafeMutableBufferPointer { Float.expInPlace($0.baseAddress!, count: n, shift: shift) }
            var exact = 0.0, worstExp = 0.0
            for (xi, ei) in zip(x, e) {
                let r = Foundation.exp(Double(xi / 10) - Double(shift))
                exact += r
                worstExp = max(worstExp, abs(Double(ei) - r) / r)
            }
            #expect(worstExp < 4e-7, "n=\(n): exp worst relative error \(worstExp)")
            #expect(abs(Double(sum) - exact) / exact < 1e-5)
        }
    }

    /// The small-layer recurrence kernel against the naive GEMM, on awkward shapes (blocks of
    /// 4 × 16 and every remainder).
    @Test func smallGEMMKernelMatchesNaive() {
        var rng = Xoshiro256(seed: 3)
        for (m, n, k) in [(1, 1, 1), (4, 16, 5), (5, 17, 3), (16, 32, 32), (7, 40, 13), (32, 128, 128), (3, 9, 64)] {
            let a = (0..<(m * k)).map { _ in Float(rng.uniform(-1, 1)) }
            let b = (0..<(k * n)).map { _ in Float(rng.uniform(-1, 1)) }
            let c0 = (0..<(m * n)).map { _ in Float(rng.uniform(-1, 1)) }
            var fast = c0, slow = c0
            fast.withUnsafeMutableBufferPointer { smallGEMMAccumulate(m: m, n: n, k: k, a: a, b: b, c: $0.baseAddress!) }
            slow.withUnsafeMutableBufferPointer {
                naiveGEMM(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 1,
                          c: $0.baseAddress!, ldc: n)
            }
            let worst = zip(fast, slow).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-6 * Float(k), "\(m)x\(n)x\(k): \(worst)")
        }
    }
}
