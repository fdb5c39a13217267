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
