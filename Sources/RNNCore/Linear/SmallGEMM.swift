import RNNKernels

/// `C (M×N) += A (M×K) · B (K×N)`, row-major and dense, through the C kernel of `RNNKernels`
/// (a 4×16 AVX2+FMA register block where the CPU has it). For the step-by-step recurrence of
/// small layers, where a BLAS call's packing and dispatch cost more than the product itself.
public func smallGEMMAccumulate(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                c: UnsafeMutablePointer<Float>) {
    rnn_sgemm_nn_acc(m, n, k, a, k, b, n, c, n)
}
