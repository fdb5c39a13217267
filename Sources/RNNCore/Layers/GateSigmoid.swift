import RNNKernels

/// `p[i] = σ(p[i])` for the gates: float32 through the AVX2 kernel of `RNNKernels` (the rnn
/// path's sigmoid activation keeps `FastMath.sigmoid`, so its results stay as they were).
enum GateSigmoid<Scalar: RNNScalar> {
    @inline(__always)
    static func apply(_ p: UnsafeMutablePointer<Scalar>, count: Int) {
        if Scalar.self == Float.self {
            rnn_sigmoid_f32(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), count)
        } else {
            Scalar.sigmoidInPlace(p, count: count)
        }
    }
}

/// Float32 views of `Scalar` pointers, for the C kernels (callers ensure `Scalar == Float`).
@inline(__always)
func f32<Scalar>(_ p: UnsafePointer<Scalar>) -> UnsafePointer<Float> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inline(__always)
func f32<Scalar>(_ p: UnsafeMutablePointer<Scalar>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}
