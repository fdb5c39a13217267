#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif
import RNNKernels

/// Reference kernels kept next to the BLAS fast path (llm.c's `matmul_forward_naive`): the tests
/// compare `RNNScalar.gemm` against `naiveGEMM` on awkward shapes.
///
/// Row-major `C = alpha · op(A) · op(B) + beta · C` with `C` (M, N), written as a triple loop.
@inline(never)
public func naiveGEMM<Scalar: RNNScalar>(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Scalar, a: UnsafePointer<Scalar>, lda: Int,
    b: UnsafePointer<Scalar>, ldb: Int,
    beta: Scalar, c: UnsafeMutablePointer<Scalar>, ldc: Int
) {
    for i in 0..<m {
        for j in 0..<n {
            var sum: Scalar = 0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                sum += av * bv
            }
            c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
        }
    }
}

/// The two float32 paths of `Float.gemm` (issue 23), callable one by one: the benchmarks time them
/// side by side on the engine's shapes and the tests compare them. `Float.gemm` itself picks one by
/// shape (`sgemmUsesOwnKernel`).
public enum SGEMMPath: String, Sendable, CaseIterable {
    /// The project's packed AVX-512 kernel (`rnn_sgemm_own`; its naive twin on CPUs without AVX-512).
    case own
    /// The system BLAS (`cblas_sgemm`).
    case blas
}

/// Whether `Float.gemm` sends this shape to the project's own kernel (else to the system BLAS).
public func sgemmUsesOwnKernel(transA: Bool, transB: Bool, m: Int, n: Int, k: Int) -> Bool {
    rnn_sgemm_own_wins(transA ? 1 : 0, transB ? 1 : 0, m, n, k) != 0
}

/// Row-major `C = alpha · op(A) · op(B) + beta · C` through the path given, whatever the shape.
public func sgemm(
    path: SGEMMPath, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    switch path {
    case .own:
        rnn_sgemm_own(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    case .blas:
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
