import Dispatch
import Testing
import RNNCore
import RNNKernels
import RNNTestSupport

/// The project's own packed AVX-512 GEMM (`rnn_sgemm_own`, issue 23) against its naive twin in
/// float32 and against a float64 triple loop, on awkward shapes: 1×1, primes, k = 1, shapes that
/// cross every block boundary (12-row micro-panels, 32-column panels, KC 384, MC 480, NC 3072),
/// all four transpose combinations, padded leading dimensions whose padding must stay untouched
/// (and whose NaNs must never be read), beta 0 over NaN, beta 1, alpha ≠ 1. On a CPU without
/// AVX-512F/BW/VL `rnn_sgemm_own` runs the naive twin, and the tests still hold.
@Suite("Own packed GEMM vs naive")
struct OwnGEMMTests {
    /// (m, n, k)
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 1, 7), (7, 1, 1), (1, 40, 3), (13, 37, 17), (12, 32, 16), (24, 64, 32), (13, 33, 1),
        (61, 67, 71), (3, 97, 5), (11, 31, 15), (25, 33, 400), (130, 70, 390), (500, 70, 29), (2, 3100, 3),
        (64, 96, 777),
    ]

    struct Case {
        var transA: Bool, transB: Bool, m: Int, n: Int, k: Int
        var lda: Int, ldb: Int, ldc: Int
        var alpha: Float, beta: Float
        var a: [Float], b: [Float], c: [Float]
        var aRows: Int { transA ? k : m }
        var bRows: Int { transB ? n : k }
        var aCols: Int { transA ? m : k }
        var bCols: Int { transB ? k : n }

        /// Random operands with padded leading dimensions; the padding of A and B holds NaN (a
        /// read would poison the product), C's padding a sentinel that must survive.
        init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float, pad: Int, seed: UInt64,
             nanC: Bool = false) {
            var rng = SplitMix64(seed: seed)
            (self.transA, self.transB, self.m, self.n, self.k, self.alpha, self.beta) = (transA, transB, m, n, k, alpha, beta)
            lda = (transA ? m : k) + pad
            ldb = (transB ? k : n) + 2 * pad
            ldc = n + 3 * pad
            func fill(rows: Int, cols: Int, ld: Int, padding: Float) -> [Float] {
                var x = [Float](repeating: padding, count: rows * ld)
                for r in 0..<rows { for j in 0..<cols { x[r * ld + j] = Float(rng.unit() * 2 - 1) } }
                return x
            }
            a = []; b = []; c = []
            a = fill(rows: transA ? k : m, cols: transA ? m : k, ld: lda, padding: .nan)
            b = fill(rows: transB ? n : k, cols: transB ? k : n, ld: ldb, padding: .nan)
            c = fill(rows: m, cols: n, ld: ldc, padding: OwnGEMMTests.sentinel)
            if nanC { for i in 0..<m { for j in 0..<n { c[i * ldc + j] = .nan } } }
        }

        func run(_ f: (Int32, Int32, Int, Int, Int, Float, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, Float,
                       UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
            var out = c
            out.withUnsafeMutableBufferPointer { cp in
                f(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, cp.baseAddress!, ldc)
            }
            return out
        }

        /// The float64 product and, per entry, the scale of its rounding: |alpha| Σ|a||b| + |beta c|.
        func reference() -> (value: [Double], scale: [Double]) {
            var value = [Double](repeating: 0, count: m * n), scale = value
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0, sa = 0.0
                    for p in 0..<k {
                        let av = Double(transA ? a[p * lda + i] : a[i * lda + p])
                        let bv = Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                        s += av * bv; sa += abs(av * bv)
                    }
                    let c0 = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                    value[i * n + j] = Double(alpha) * s + c0
                    scale[i * n + j] = abs(Double(alpha)) * sa + abs(c0) + 1e-30
                }
            }
            return (value, scale)
        }

        /// Worst error of `got` against the float64 product, in units of each entry's scale, and
        /// whether every padding entry of C kept the sentinel.
        func check(_ got: [Float], against ref: (value: [Double], scale: [Double])? = nil) -> (worst: Double, paddingKept: Bool) {
            let ref = ref ?? reference()
            var worst = 0.0, kept = true
            for i in 0..<m {
                for j in 0..<ldc {
                    let v = got[i * ldc + j]
                    if j >= n { kept = kept && v == OwnGEMMTests.sentinel; continue }
                    let e = v.isFinite ? abs(Double(v) - ref.value[i * n + j]) / ref.scale[i * n + j] : .infinity
                    worst = max(worst, e)
                }
            }
            return (worst, kept && got.count == c.count)
        }

        var label: String { "\(transA ? "T" : "N")\(transB ? "T" : "N") \(m)x\(n)x\(k) alpha \(alpha) beta \(beta)" }
        /// float32 rounding of a k-term sum, with room: a wrong index gives errors of order 1.
        var tolerance: Double { 1.2e-7 * Double(k + 8) }
    }

    static let sentinel: Float = 12345.5

    static func own(_ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>,
                    _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>,
                    _ ldc: Int) {
        rnn_sgemm_own(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    static func naive(_ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>,
                      _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>,
                      _ ldc: Int) {
        rnn_sgemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    static let transposes = [(false, false), (false, true), (true, false), (true, true)]

    @Test(arguments: [(Float(1), Float(0)), (1, 1), (0.7, 0.5), (-1.5, 1)])
    func agreesWithNaiveTwinAndFloat64(alpha: Float, beta: Float) {
        var seed: UInt64 = 1
        for (m, n, k) in Self.shapes {
            for (ta, tb) in Self.transposes {
                do {  // unpadded and padded leading dimensions in turn
                    seed += 1
                    let pad = seed % 2 == 0 ? 0 : 3
                    let t = Case(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, beta: beta, pad: pad, seed: seed)
                    let ref = t.reference()
                    let own = t.check(t.run(Self.own), against: ref), naive = t.check(t.run(Self.naive), against: ref)
                    #expect(own.worst <= t.tolerance, "own \(t.label) pad \(pad): \(own.worst) (AVX-512 \(rnn_gemm_avx512()))")
                    #expect(naive.worst <= t.tolerance, "naive \(t.label) pad \(pad): \(naive.worst)")
                    #expect(own.paddingKept, "own \(t.label) pad \(pad) wrote into C's padding")
                    #expect(naive.paddingKept, "naive \(t.label) pad \(pad) wrote into C's padding")
                }
            }
        }
    }

    /// beta = 0 overwrites C without reading it: NaN there does not reach the result.
    @Test func betaZeroNeverReadsC() {
        for (ta, tb) in Self.transposes {
            for (m, n, k) in [(13, 37, 17), (1, 1, 1), (40, 70, 5)] {
                let t = Case(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 2, beta: 0, pad: 2, seed: 77, nanC: true)
                let own = t.check(t.run(Self.own))
                #expect(own.worst <= t.tolerance && own.paddingKept, "\(t.label): \(own)")
            }
        }
    }

    /// k = 0 and alpha = 0: C = beta · C (zeros for beta = 0, even over NaN).
    @Test func emptyDepthScalesC() {
        for beta: Float in [0, 1, 0.5] {
            let t = Case(transA: false, transB: true, m: 5, n: 7, k: 0, alpha: 1, beta: beta, pad: 1, seed: 5)
            let own = t.run(Self.own)
            for i in 0..<5 { for j in 0..<7 { #expect(own[i * t.ldc + j] == (beta == 0 ? 0 : beta * t.c[i * t.ldc + j])) } }
            let z = Case(transA: true, transB: false, m: 5, n: 7, k: 4, alpha: 0, beta: beta, pad: 1, seed: 6)
            let zo = z.run(Self.own)
            for i in 0..<5 { for j in 0..<7 { #expect(zo[i * z.ldc + j] == (beta == 0 ? 0 : beta * z.c[i * z.ldc + j])) } }
        }
    }

    /// The engine's entry point (`Float.gemm`, own kernel or BLAS by shape) on the window shapes of
    /// the benchmark's workloads (smaller row counts), against float64.
    @Test func engineEntryPointOnWindowShapes() {
        let shapes: [(Bool, Bool, Int, Int, Int)] = [
            (false, true, 400, 128, 64), (false, true, 400, 64, 128), (false, false, 400, 128, 64),
            (true, false, 64, 128, 400), (true, false, 128, 64, 400), (true, false, 512, 128, 400),
            (false, true, 32, 512, 128), (false, false, 32, 128, 512),
        ]
        for (i, (ta, tb, m, n, k)) in shapes.enumerated() {
            let t = Case(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, beta: 1, pad: 1, seed: 100 + UInt64(i))
            let got = t.run { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
                Float.gemm(transA: ta != 0, transB: tb != 0, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                           beta: beta, c: c, ldc: ldc)
            }
            let r = t.check(got)
            #expect(r.worst <= t.tolerance && r.paddingKept, "\(t.label) (own: \(rnn_sgemm_own_wins(ta ? 1 : 0, tb ? 1 : 0, m, n, k))): \(r)")
        }
    }

    /// `rnn_sgemm_own_pair` (two products sharing op(A), one packing of A) gives bit for bit the two
    /// `rnn_sgemm_own` calls, on awkward shapes, all transposes, beta 0 and 1, padded leading
    /// dimensions (C's padding kept), and where the two panel sets overflow one block (3000 + 100
    /// columns: the fallback to two calls); and both within float32 rounding of float64.
    @Test func pairIsTwoCallsBitForBit() {
        let shapes: [(m: Int, n1: Int, n2: Int, k: Int)] = [
            (1, 1, 1, 1), (13, 37, 5, 17), (61, 64, 33, 400), (130, 512, 64, 390), (25, 3000, 100, 7), (500, 40, 96, 29),
        ]
        var seed: UInt64 = 900
        for s in shapes {
            for (ta, tb) in Self.transposes {
                for (alpha, beta): (Float, Float) in [(1, 1), (0.7, 0)] {
                    seed += 1
                    let pad = Int(seed % 2)  // A's padding (NaN) is the same in both cases: same seed, m, k
                    let t1 = Case(transA: ta, transB: tb, m: s.m, n: s.n1, k: s.k, alpha: alpha, beta: beta, pad: pad, seed: seed)
                    let t2 = Case(transA: ta, transB: tb, m: s.m, n: s.n2, k: s.k, alpha: alpha, beta: beta, pad: pad, seed: seed)
                    #expect(t1.a.map(\.bitPattern) == t2.a.map(\.bitPattern))
                    var c1 = t1.c, c2 = t2.c
                    rnn_sgemm_own_pair(ta ? 1 : 0, tb ? 1 : 0, s.m, s.k, alpha, t1.a, t1.lda, s.n1, t1.b, t1.ldb, &c1, t1.ldc,
                                       s.n2, t2.b, t2.ldb, &c2, t2.ldc, beta)
                    let label = "\(t1.label) + n2 \(s.n2) pad \(pad)"
                    #expect(c1.map(\.bitPattern) == t1.run(Self.own).map(\.bitPattern), "\(label): first product")
                    #expect(c2.map(\.bitPattern) == t2.run(Self.own).map(\.bitPattern), "\(label): second product")
                    let r1 = t1.check(c1), r2 = t2.check(c2)
                    #expect(r1.worst <= t1.tolerance && r1.paddingKept && r2.worst <= t2.tolerance && r2.paddingKept, "\(label)")
                }
            }
        }
    }

    /// Several threads at once (a sweep's workers): per-thread packing buffers, no interference.
    @Test func concurrentCallsAgree() {
        let cases = (0..<8).map { i in
            Case(transA: i % 2 == 1, transB: i % 4 >= 2, m: 37 + 11 * i, n: 45 + 7 * i, k: 300 + 13 * i, alpha: 1, beta: 1,
                 pad: i % 3, seed: 500 + UInt64(i))
        }
        let expected = cases.map { $0.run(Self.own) }
        final class Box: @unchecked Sendable { var same = [Bool](repeating: false, count: 8) }
        let box = Box()
        let lock = NSLockish()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            var ok = true
            for _ in 0..<5 { ok = ok && cases[i].run(Self.own) == expected[i] }
            lock.locked { box.same[i] = ok }
        }
        #expect(box.same.allSatisfy { $0 })
    }
}

/// A tiny lock for the concurrent test (no Foundation import needed in this file).
final class NSLockish: @unchecked Sendable {
    private let queue = DispatchQueue(label: "OwnGEMMTests.lock")
    func locked(_ f: () -> Void) { queue.sync(execute: f) }
}
