import Testing
import RNNCore

/// The BLAS path agrees with the naive triple loop on awkward shapes (1×1, primes, B = 1),
/// every transpose combination, with beta 0 and 1, under whatever core OpenBLAS chose.
@Suite("BLAS vs naive GEMM")
struct GEMMTests {
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (1, 7, 3), (13, 1, 5), (17, 19, 23), (64, 31, 2), (3, 128, 97)]

    func check<S: RNNScalar>(_ type: S.Type, tolerance: Double) {
        var rng = Xoshiro256(seed: 5)
        for (m, n, k) in Self.shapes {
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
                        let worst = zip(fast, slow).map { abs(Double($0) - Double($1)) }.max() ?? 0
                        #expect(worst <= tolerance * Double(k),
                                "\(S.precisionName) \(m)x\(n)x\(k) tA=\(transA) tB=\(transB) beta=\(beta): \(worst) (core \(BLASRuntime.coreName))")
                    }
                }
            }
        }
    }

    @Test func float64() { check(Double.self, tolerance: 1e-15) }
    @Test func float32() { check(Float.self, tolerance: 1e-6) }
}
