import Testing
import RNNCore
import RNNTestSupport

/// The BLAS path agrees with the naive triple loop on awkward shapes (1×1, primes, B = 1),
/// every transpose combination, with beta 0 and 1, under whatever core OpenBLAS chose.
@Suite("BLAS vs naive GEMM")
struct GEMMTests {
    @Test func blasAgreesWithTheNaiveKernel() {
        let (f32, f64) = BLASSelfTest.run()
        #expect(f64 <= BLASSelfTest.tolerance.float64, "float64 worst \(f64) (core \(BLASRuntime.coreName))")
        #expect(f32 <= BLASSelfTest.tolerance.float32, "float32 worst \(f32) (core \(BLASRuntime.coreName))")
    }

    /// The naive kernel itself, on a product worked by hand.
    @Test func naiveKernelByHand() {
        // [1 2; 3 4] · [5 6; 7 8]ᵀ = [17 23; 39 53]
        let a: [Double] = [1, 2, 3, 4], b: [Double] = [5, 6, 7, 8]
        var c = [Double](repeating: 0, count: 4)
        c.withUnsafeMutableBufferPointer {
            naiveGEMM(transA: false, transB: true, m: 2, n: 2, k: 2, alpha: 1, a: a, lda: 2, b: b, ldb: 2, beta: 0, c: $0.baseAddress!, ldc: 2)
        }
        #expect(c == [17, 23, 39, 53])
    }
}
