import Foundation
import Testing
@testable import RNNCore

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
        var worstTanh = 0.0, worstSigmoid = 0.0
        for x in Self.grid(-30, 30, 200_000) {
            worstTanh = max(worstTanh, abs(Double(FastMath.tanh(x)) - Foundation.tanh(Double(x))))
            worstSigmoid = max(worstSigmoid, abs(Double(FastMath.sigmoid(x)) - 1 / (1 + Foundation.exp(-Double(x)))))
        }
        #expect(worstTanh < 3e-7, "tanh: worst absolute error \(worstTanh)")
        #expect(worstSigmoid < 3e-7, "sigmoid: worst absolute error \(worstSigmoid)")
        // Saturation and odd symmetry.
        #expect(FastMath.tanh(100) == 1 && FastMath.tanh(-100) == -1 && FastMath.tanh(0) == 0)
        #expect(FastMath.sigmoid(-200) >= 0 && FastMath.sigmoid(200) == 1)
        #expect(FastMath.tanh(.infinity) == 1 && FastMath.exp(-.infinity) >= 0)
    }

    /// The in-place array kernels (what the engine calls) agree with the scalar ones, tails included.
    @Test func arrayKernelsMatchScalarOnes() {
        for n in [1, 7, 8, 9, 33] {
            var v = (0..<n).map { Float($0) * 0.37 - 3 }
            let expected = v.map(FastMath.tanh)
            v.withUnsafeMutableBufferPointer { Float.tanhInPlace($0.baseAddress!, count: n) }
            #expect(v == expected)
        }
    }
}
