/// Compares the BLAS GEMM with `naiveGEMM` on awkward shapes (1×1, primes, one row), every
/// transpose combination, beta 0 and 1, in float32 and float64 — run by `rnn-exp check-blas`
/// under whatever kernel set OpenBLAS chose in that process.
public enum BLASSelfTest {
    public static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (1, 7, 3), (13, 1, 5), (17, 19, 23), (64, 31, 2), (3, 128, 97)]

    /// Pass thresholds on the worst error relative to k: a few ulps of each precision.
    public static let tolerance = (float32: 1e-6, float64: 1e-15)

    /// The worst error relative to k (the length of each dot product), per precision.
    public static func run() -> (float32: Double, float64: Double) {
        (worst(Float.self), worst(Double.self))
    }

    /// Both precisions within `tolerance`.
    public static func passed(_ worst: (float32: Double, float64: Double)) -> Bool {
        worst.float32 <= tolerance.float32 && worst.float64 <= tolerance.float64
    }

    static func worst<S: RNNScalar>(_ type: S.Type) -> Double {
        var rng = Xoshiro256(seed: SeedStream.blasSelfTest)
        var worst = 0.0
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta in [0.0, 1.0] {
                        let a = (0..<(m * k)).map { _ in S(rng.uniform(-1, 1)) }
                        let b = (0..<(k * n)).map { _ in S(rng.uniform(-1, 1)) }
                        let c0 = (0..<(m * n)).map { _ in S(rng.uniform(-1, 1)) }
                        var fast = c0, slow = c0
                        let lda = transA ? m : k, ldb = transB ? k : n
                        fast.withUnsafeMutableBufferPointer { c in
                            S.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                                   b: b, ldb: ldb, beta: S(beta), c: c.baseAddress!, ldc: n)
                        }
                        slow.withUnsafeMutableBufferPointer { c in
                            naiveGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                                      b: b, ldb: ldb, beta: S(beta), c: c.baseAddress!, ldc: n)
                        }
                        for (x, y) in zip(fast, slow) { worst = max(worst, abs(Double(x) - Double(y)) / Double(k)) }
                    }
                }
            }
        }
        return worst
    }
}
