import RNNCore
import RNNKernels
import RNNTestSupport
import Testing

/// The online algorithms' row kernels (`online_rows.c`): the dispatching versions (AVX-512 here)
/// and the AVX2 ones (called directly) against their naive twins and a float64 computation, on
/// awkward shapes (rows of 1, tails of every length, strides wider than a row, stride-0 scalars and
/// vectors, the contiguous bias column).
@Suite("online row kernels")
struct OnlineRowKernelTests {
    /// One `rnn_rows_update` case: every argument explicit.
    struct Case: CustomStringConvertible {
        var rows: Int, n: Int, ldm: Int, sa: Int, sd: Int, sv: Int
        var description: String { "rows \(rows) n \(n) ldm \(ldm) sa \(sa) sd \(sd) sv \(sv)" }
    }

    static let cases: [Case] = {
        var out: [Case] = []
        for (rows, n) in [(1, 1), (3, 1), (17, 1), (33, 1), (1, 7), (5, 15), (4, 16), (3, 17), (32, 49), (2, 33), (7, 64)] {
            out.append(Case(rows: rows, n: n, ldm: n, sa: 1, sd: 1, sv: 0))
            out.append(Case(rows: rows, n: n, ldm: n + 3, sa: 0, sd: 2, sv: n + 1))
            // The contiguous bias column (n = 1, ldm = 1, one a and one v): vectorised over rows.
            if n == 1 { out.append(Case(rows: rows, n: 1, ldm: 1, sa: 0, sd: 1, sv: 0)) }
        }
        // The outer-product form (one a, one v, n = 16 · 1…4: v held in registers), rows
        // contiguous or apart, d strided; n = 80 and 24 take the general loop.
        for (rows, n) in [(1, 16), (32, 16), (32, 32), (5, 48), (3, 64), (4, 80), (6, 24)] {
            out.append(Case(rows: rows, n: n, ldm: n, sa: 0, sd: 1, sv: 0))
            out.append(Case(rows: rows, n: n, ldm: n + 20, sa: 0, sd: 3, sv: 0))
        }
        return out
    }()

    @Test(arguments: cases)
    func updateMatchesTwinAndFloat64(_ c: Case) {
        var rng = Xoshiro256(seed: UInt64(c.rows * 1000 + c.n * 10 + c.ldm))
        func random(_ count: Int) -> [Float] { (0..<max(count, 1)).map { _ in Float(rng.uniform(-2, 2)) } }
        let mCount = (c.rows - 1) * c.ldm + c.n + 4  // + a guard zone past the last row
        let m0 = random(mCount)
        let a = random(c.rows * max(c.sa, 1)), d = random(c.rows * max(c.sd, 1))
        let v = random((c.rows - 1) * c.sv + c.n)
        var mFast = m0, mTwin = m0, mAVX2 = m0
        let fast = rnn_rows_update_f32(c.rows, c.n, &mFast, c.ldm, a, c.sa, d, c.sd, v, c.sv, 1)
        let twin = rnn_rows_update_naive(c.rows, c.n, &mTwin, c.ldm, a, c.sa, d, c.sd, v, c.sv, 1)
        let avx2 = rnn_rows_update_avx2(c.rows, c.n, &mAVX2, c.ldm, a, c.sa, d, c.sd, v, c.sv, 1)
        // Float64 of the same formula; untouched entries stay exactly as they were.
        var mExact = m0.map(Double.init), squares = 0.0
        var touched = Set<Int>()
        for r in 0..<c.rows {
            for j in 0..<c.n {
                let i = r * c.ldm + j
                let y = Double(a[r * c.sa]) * Double(m0[i]) + Double(d[r * c.sd]) * Double(v[r * c.sv + j])
                mExact[i] = y
                squares += y * y
                touched.insert(i)
            }
        }
        for i in 0..<mCount {
            if touched.contains(i) {
                #expect(abs(Double(mFast[i]) - mExact[i]) <= 4e-7 * (abs(mExact[i]) + 4), "\(c) m[\(i)]")
                #expect(abs(Double(mTwin[i]) - mExact[i]) <= 4e-7 * (abs(mExact[i]) + 4), "\(c) twin m[\(i)]")
                #expect(abs(Double(mAVX2[i]) - mExact[i]) <= 4e-7 * (abs(mExact[i]) + 4), "\(c) avx2 m[\(i)]")
            } else {
                #expect(mFast[i] == m0[i] && mTwin[i] == m0[i] && mAVX2[i] == m0[i], "\(c): wrote m[\(i)] outside the rows")
            }
        }
        #expect(abs(fast - squares) <= 1e-5 * (squares + 1), "\(c): |m|² \(fast) vs \(squares)")
        #expect(abs(twin - squares) <= 1e-5 * (squares + 1), "\(c): twin |m|² \(twin) vs \(squares)")
        #expect(abs(avx2 - squares) <= 1e-5 * (squares + 1), "\(c): avx2 |m|² \(avx2) vs \(squares)")
    }

    @Test func updateWithoutNormReturnsZero() {
        var m: [Float] = [1, 2, 3]
        let one: [Float] = [1]
        let r = rnn_rows_update_f32(1, 3, &m, 3, one, 0, one, 0, [1, 1, 1], 0, 0)
        #expect(r == 0)
        #expect(m == [2, 3, 4])
    }

    @Test func axpyMatchesTwinAndFloat64() {
        var rng = Xoshiro256(seed: 77)
        for (rows, n, ldd, lds, ss) in [(1, 1, 1, 1, 1), (5, 7, 9, 7, 1), (3, 16, 16, 0, 2), (32, 49, 49, 49, 1),
                                        (4, 33, 40, 35, 0), (16, 1568, 0, 1568, 1)] {
            let dstCount = (rows - 1) * ldd + n + 3
            let dst0 = (0..<dstCount).map { _ in Float(rng.uniform(-1, 1)) }
            let s = (0..<(rows * max(ss, 1))).map { _ in Float(rng.uniform(-1, 1)) }
            let src = (0..<((rows - 1) * lds + n)).map { _ in Float(rng.uniform(-1, 1)) }
            var fast = dst0, twin = dst0, avx2 = dst0
            rnn_rows_axpy_f32(rows, n, &fast, ldd, s, ss, src, lds)
            rnn_rows_axpy_naive(rows, n, &twin, ldd, s, ss, src, lds)
            rnn_rows_axpy_avx2(rows, n, &avx2, ldd, s, ss, src, lds)
            var exact = dst0.map(Double.init)
            for r in 0..<rows { for j in 0..<n { exact[r * ldd + j] += Double(s[r * ss]) * Double(src[r * lds + j]) } }
            for i in 0..<dstCount {
                let scale = abs(exact[i]) + Double(rows)
                #expect(abs(Double(fast[i]) - exact[i]) <= 1e-6 * scale, "axpy \(rows)x\(n) [\(i)]")
                #expect(abs(Double(twin[i]) - exact[i]) <= 1e-6 * scale, "axpy twin \(rows)x\(n) [\(i)]")
                #expect(abs(Double(avx2[i]) - exact[i]) <= 1e-6 * scale, "axpy avx2 \(rows)x\(n) [\(i)]")
            }
        }
    }

    @Test func weightedSumMatchesTwinAndFloat64() {
        var rng = Xoshiro256(seed: 78)
        // (rows, n, ldd, terms, st, sr, lt, lds): lanes' gradient rows (n 16 / 32 / 1, row stride
        // wider than n), UORO's one long row (n past several 64-column blocks with a tail), 1 term.
        for (rows, n, ldd, terms, st, sr, lt, lds) in [(32, 16, 16, 16, 32, 1, 1568, 49), (32, 32, 32, 16, 32, 1, 1568, 49),
                                                       (32, 1, 1, 16, 32, 1, 1568, 49), (1, 1568, 0, 16, 1, 0, 1568, 0),
                                                       (3, 71, 80, 5, 3, 1, 300, 90), (2, 7, 7, 1, 1, 1, 20, 9),
                                                       (1, 200, 0, 3, 2, 0, 203, 0)] {
            let dstCount = (rows - 1) * ldd + n + 3
            let dst0 = (0..<dstCount).map { _ in Float(rng.uniform(-1, 1)) }
            let s = (0..<((terms - 1) * st + (rows - 1) * sr + 1)).map { _ in Float(rng.uniform(-1, 1)) }
            let src = (0..<((terms - 1) * lt + (rows - 1) * lds + n)).map { _ in Float(rng.uniform(-1, 1)) }
            var fast = dst0, twin = dst0, avx2 = dst0
            rnn_rows_weighted_sum_f32(rows, n, &fast, ldd, terms, s, st, sr, src, lt, lds)
            rnn_rows_weighted_sum_naive(rows, n, &twin, ldd, terms, s, st, sr, src, lt, lds)
            rnn_rows_weighted_sum_avx2(rows, n, &avx2, ldd, terms, s, st, sr, src, lt, lds)
            var exact = dst0.map(Double.init), touched = Set<Int>()
            for r in 0..<rows {
                for j in 0..<n {
                    var sum = 0.0
                    for t in 0..<terms { sum += Double(s[t * st + r * sr]) * Double(src[t * lt + r * lds + j]) }
                    exact[r * ldd + j] += sum
                    touched.insert(r * ldd + j)
                }
            }
            for i in 0..<dstCount {
                if touched.contains(i) {
                    let scale = abs(exact[i]) + Double(terms)
                    #expect(abs(Double(fast[i]) - exact[i]) <= 1e-6 * scale, "weighted sum \(rows)x\(n) [\(i)]")
                    #expect(abs(Double(twin[i]) - exact[i]) <= 1e-6 * scale, "weighted sum twin \(rows)x\(n) [\(i)]")
                    #expect(abs(Double(avx2[i]) - exact[i]) <= 1e-6 * scale, "weighted sum avx2 \(rows)x\(n) [\(i)]")
                } else {
                    #expect(fast[i] == dst0[i] && twin[i] == dst0[i] && avx2[i] == dst0[i], "weighted sum \(rows)x\(n): wrote [\(i)]")
                }
            }
        }
    }
    /// `rnn_rows_carry` (an rnn layer's SnAp-1 / RFLO rows over the listed lanes, and their
    /// gradient summed over those lanes): lanes skipped by the list, rows and lanes wider than `n`,
    /// column counts on and off the 64 / 16 / 8 vector blocks, snap1 (`diag`) and rflo (`λ`), with
    /// and without errors.
    @Test func carryMatchesTwinAndFloat64() {
        var rng = Xoshiro256(seed: 79)
        // (rows, n, lane capacity, listed lanes, ldl ≥ n, ldr ≥ capacity · ldl, snap1, errors)
        let cases: [(Int, Int, Int, [Int], Int, Int, Bool, Bool)] = [
            (32, 64, 16, Array(0..<16), 64, 16 * 64 + 16, true, true),
            (32, 64, 16, [0, 2, 3, 9, 15], 64, 16 * 64 + 16, false, true),
            (3, 80, 4, [1, 3], 80, 4 * 80 + 5, true, false),
            (5, 71, 3, [2, 0, 1], 75, 3 * 75 + 1, true, true),
            (2, 7, 2, [1], 9, 20, false, true),
            (1, 1, 1, [0], 1, 1, true, true),
            (4, 40, 5, [4, 1], 48, 5 * 48, false, false),
            // An rnn row (i + u + 1 columns in a 64-column slot), masked tails wider and narrower
            // than 8, a second group of columns with a tail.
            (32, 49, 16, Array(0..<16), 64, 16 * 64 + 16, true, true),
            (3, 29, 4, [0, 1, 3], 32, 4 * 32 + 16, false, true),
            (2, 12, 3, [2, 1], 16, 3 * 16, true, true),
            (4, 100, 2, [1, 0], 112, 2 * 112 + 16, true, true),
        ]
        // rflo with λ = 0 (its own instance: the old row is not read) on some of the same shapes.
        let decays: [Float] = [0.37, 0]
        for (c, lambda) in cases.flatMap({ c in decays.map { (c, $0) } }) where !c.6 || lambda != 0 {
            let (rows, n, capacity, list, ldl, ldr, snap, withErrors) = c
            let what = "rows \(rows) n \(n) lanes \(list) snap1 \(snap) λ \(lambda) errors \(withErrors)"
            func random(_ count: Int) -> [Float] { (0..<max(count, 1)).map { _ in Float(rng.uniform(-1.5, 1.5)) } }
            let mCount = (rows - 1) * ldr + (capacity - 1) * ldl + n + 5
            let m0 = random(mCount)
            let d = random(capacity * rows), diag = random(rows), v = random(capacity * (n + 2))
            let e = random(capacity * (rows + 1))
            let gCount = rows * (n + 3) + 2
            let g0 = random(gCount)
            var mFast = m0, mTwin = m0, mAVX2 = m0, gFast = g0, gTwin = g0, gAVX2 = g0
            let lanes = list.map { CLong($0) }
            diag.withUnsafeBufferPointer { dg in
                e.withUnsafeBufferPointer { eb in
                    let dp = snap ? dg.baseAddress : nil, ep = withErrors ? eb.baseAddress : nil
                    rnn_rows_carry_f32(rows, n, lanes.count, lanes, &mFast, ldr, ldl, d, rows, dp, lambda, v, n + 2,
                                       ep, rows + 1, &gFast, n + 3)
                    rnn_rows_carry_naive(rows, n, lanes.count, lanes, &mTwin, ldr, ldl, d, rows, dp, lambda, v, n + 2,
                                         ep, rows + 1, &gTwin, n + 3)
                    rnn_rows_carry_avx2(rows, n, lanes.count, lanes, &mAVX2, ldr, ldl, d, rows, dp, lambda, v, n + 2,
                                        ep, rows + 1, &gAVX2, n + 3)
                }
            }
            var mExact = m0.map(Double.init), gExact = g0.map(Double.init)
            var touched = Set<Int>(), gTouched = Set<Int>()
            for r in 0..<rows {
                for j in 0..<n where withErrors { gExact[r * (n + 3) + j] = 0; gTouched.insert(r * (n + 3) + j) }
                for t in list {
                    let dr = Double(d[t * rows + r])
                    let a = snap ? dr * Double(diag[r]) : Double(lambda)
                    for j in 0..<n {
                        let i = r * ldr + t * ldl + j
                        mExact[i] = a * Double(m0[i]) + dr * Double(v[t * (n + 2) + j])
                        touched.insert(i)
                        if withErrors { gExact[r * (n + 3) + j] += Double(e[t * (rows + 1) + r]) * mExact[i] }
                    }
                }
            }
            for i in 0..<mCount {
                if touched.contains(i) {
                    let scale = abs(mExact[i]) + 3
                    #expect(abs(Double(mFast[i]) - mExact[i]) <= 1e-6 * scale, "carry \(what) m[\(i)]")
                    #expect(abs(Double(mTwin[i]) - mExact[i]) <= 1e-6 * scale, "carry twin \(what) m[\(i)]")
                    #expect(abs(Double(mAVX2[i]) - mExact[i]) <= 1e-6 * scale, "carry avx2 \(what) m[\(i)]")
                } else {
                    #expect(mFast[i] == m0[i] && mTwin[i] == m0[i] && mAVX2[i] == m0[i],
                            "carry \(what): wrote m[\(i)] outside the listed lanes' rows")
                }
            }
            for i in 0..<gCount {
                if gTouched.contains(i) {
                    let scale = abs(gExact[i]) + Double(3 * list.count)
                    #expect(abs(Double(gFast[i]) - gExact[i]) <= 1e-6 * scale, "carry \(what) g[\(i)]")
                    #expect(abs(Double(gTwin[i]) - gExact[i]) <= 1e-6 * scale, "carry twin \(what) g[\(i)]")
                    #expect(abs(Double(gAVX2[i]) - gExact[i]) <= 1e-6 * scale, "carry avx2 \(what) g[\(i)]")
                } else {
                    #expect(gFast[i] == g0[i] && gTwin[i] == g0[i] && gAVX2[i] == g0[i], "carry \(what): wrote g[\(i)] outside its rows")
                }
            }
        }
    }
}
