import RNNKernels

/// Float32 elementwise math without libm calls, which otherwise dominate small and medium RNNs
/// (one libm call per hidden unit and step). `tanh` and the softmax's `exp` run in the C kernels
/// of `RNNKernels` (AVX2+FMA where available); `sigmoid` here, from Cephes' `exp` polynomial
/// (S. Moshier) written branch-free on plain `Float`s (rounding and `2^n` by bit tricks) so that
/// LLVM's loop vectoriser turns the loop into SIMD code.
///
/// Accuracy (checked against float64 libm in `FastMathTests`): relative error below 4e-7 for
/// `exp`, absolute error below 3e-7 for `tanh` and `sigmoid` (a few ulp). float64 keeps libm: it
/// is the precision used for exact comparisons.
enum FastMath {
    /// 1.5 · 2^23: adding and subtracting it rounds a float of magnitude < 2^22 to an integer.
    static let roundingMagic: Float = 12_582_912

    @inline(__always)
    static func exp(_ v: Float) -> Float {
        var x = Swift.min(Swift.max(v, -87.3), 88.3)
        // n = round(x / ln 2); x = x - n ln 2 (in two parts for accuracy)
        let fx = (x * 1.442_695_04 + roundingMagic) - roundingMagic
        x = x - fx * 0.693_359_375
        x = x + fx * 2.121_944_4e-4
        let z = x * x
        var y: Float = 1.987_569_15e-4
        y = y * x + 1.398_199_95e-3
        y = y * x + 8.333_451_9e-3
        y = y * x + 4.166_579_59e-2
        y = y * x + 1.666_666_55e-1
        y = y * x + 5.000_000_12e-1
        y = y * z + x + 1
        // 2^n: the low mantissa bits of fx + 2^23 + 127 hold n + 127; move them to the exponent.
        let biased = (fx + 8_388_735).bitPattern &- 0x4B00_0000
        return y * Float(bitPattern: biased &<< 23)
    }

    @inline(__always)
    static func sigmoid(_ x: Float) -> Float {
        // From exp(-|x|), so it never overflows.
        let e = exp(-Swift.abs(x))
        let r = 1 / (1 + e)
        return x < 0 ? e * r : r
    }
}


extension RNNScalar {
    /// `p[i] = tanh(p[i])`: for float32 the C kernel (`RNNKernels`, the same polynomials with
    /// AVX2+FMA where the CPU has them).
    @inline(__always)
    static func tanhInPlace(_ p: UnsafeMutablePointer<Self>, count: Int) {
        if Self.self == Float.self {
            rnn_tanh_f32(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), count)
        } else {
            for i in 0..<count { p[i] = Self.tanh(p[i]) }
        }
    }

    /// `p[i] = 1 / (1 + exp(-p[i]))`.
    @inline(__always)
    static func sigmoidInPlace(_ p: UnsafeMutablePointer<Self>, count: Int) {
        if Self.self == Float.self {
            let q = UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
            for i in 0..<count { q[i] = FastMath.sigmoid(q[i]) }
        } else {
            for i in 0..<count { p[i] = 1 / (1 + Self.exp(-p[i])) }
        }
    }

    /// `p[i] = exp(p[i] - shift)`, returning the sum of the results.
    @inline(__always)
    static func expInPlace(_ p: UnsafeMutablePointer<Self>, count: Int, shift: Self) -> Self {
        if Self.self == Float.self {
            let q = UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
            return Self(rnn_exp_shift_sum_f32(q, count, Float(shift)))
        } else {
            var sum: Self = 0
            for i in 0..<count {
                p[i] = Self.exp(p[i] - shift)
                sum += p[i]
            }
            return sum
        }
    }
}
