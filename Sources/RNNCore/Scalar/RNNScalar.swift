#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif
import Foundation
import RNNKernels

/// The floating-point types the engine computes in: `Float` (float32, the default) and `Double`
/// (float64, for exact comparisons and gradient checks).
///
/// One code path serves both: every kernel is generic over `Scalar`, and the few operations that
/// need the concrete type (BLAS calls, transcendental functions) are requirements here.
public protocol RNNScalar: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    /// Row-major general matrix product `C = alpha · op(A) · op(B) + beta · C`, `C` is (M, N).
    ///
    /// - Parameters:
    ///   - transA: use `Aᵀ`; `A` is stored (M, K) when false, (K, M) when true.
    ///   - transB: use `Bᵀ`; `B` is stored (K, N) when false, (N, K) when true.
    ///   - lda, ldb, ldc: row strides (leading dimensions) in elements.
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func sqrt(_ x: Self) -> Self

    /// Short name used in configs and file headers: `float32` or `float64`.
    static var precisionName: String { get }
}

@inline(__always)
private func cblasTranspose(_ t: Bool) -> CBLAS_TRANSPOSE {
    t ? CblasTrans : CblasNoTrans
}

extension Float: RNNScalar {
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // The window products and weight gradients go to the project's own packed AVX-512 kernel
        // where the CPU has it and the shape is one where it was measured to win (issue 23); the
        // rest, and every CPU without AVX-512F/BW/VL, to the system BLAS.
        let ta: Int32 = transA ? 1 : 0, tb: Int32 = transB ? 1 : 0
        if rnn_sgemm_own_wins(ta, tb, m, n, k) != 0 {
            rnn_sgemm_own(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        cblas_sgemm(
            CblasRowMajor, cblasTranspose(transA), cblasTranspose(transB),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always) public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { Foundation.log(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    @inline(__always) public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
    public static var precisionName: String { "float32" }
}

extension Double: RNNScalar {
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, cblasTranspose(transA), cblasTranspose(transB),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always) public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inline(__always) public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
    public static var precisionName: String { "float64" }
}

/// Process-wide BLAS settings.
public enum BLASRuntime {
    /// Forces one BLAS thread in this process: parallelism comes from running grid points side by
    /// side, and a multi-threaded BLAS would oversubscribe the cores.
    public static func useSingleThread() {
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
    }

    /// The BLAS library linked: `OpenBLAS <version and build>` or `Accelerate`.
    public static var libraryName: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        guard let config = openblas_get_config() else { return "OpenBLAS" }
        return String(cString: config).trimmingCharacters(in: .whitespaces)
        #endif
    }

    /// The float32 matrix-product path: `own AVX-512 GEMM (12x32 packed) by shape, else BLAS` where
    /// the CPU has AVX-512F/BW/VL, `BLAS only` otherwise; `RNN_EXP_GEMM=own|blas` forces one side.
    public static var gemmPath: String {
        if rnn_gemm_avx512() == 0 { return "BLAS only (no AVX-512F/BW/VL)" }
        switch rnn_gemm_mode() {
        case 1: return "own AVX-512 GEMM (12x32 packed) for every shape (RNN_EXP_GEMM=own)"
        case 2: return "BLAS only (RNN_EXP_GEMM=blas)"
        default: return "own AVX-512 GEMM (12x32 packed) by shape, else BLAS"
        }
    }

    /// The kernel set the BLAS library chose (OpenBLAS's core name, e.g. `Haswell`), or `Accelerate`.
    public static var coreName: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
        #endif
    }
}
