import RNNKernels

/// The row operations the online algorithms are made of (SPEC 3.3: an influence row of SnAp-1 or
/// RFLO, UORO's parameter tangent and RTRL's immediate influence each get a scaled copy of a short
/// vector, `x` or `h_{n-1}`, per weight row). Float32 runs the AVX-512 / AVX2 kernels of
/// `RNNKernels` (`online_rows.c`); float64 runs the loops below, the exact path the float32 one is
/// compared with.
enum OnlineRows<Scalar: RNNScalar> {
    /// For `r < rows`, `j < n`: `m[r·ldm + j] = a[r·sa] · m[r·ldm + j] + d[r·sd] · v[r·sv + j]`
    /// (stride 0: one scalar or vector for every row). Returns `Σ` of the new `m` squared when
    /// `norm`, else 0 (summed in `Scalar`).
    @inline(__always)
    @discardableResult
    static func update(rows: Int, n: Int, _ m: UnsafeMutablePointer<Scalar>, ldm: Int,
                       a: UnsafePointer<Scalar>, sa: Int, d: UnsafePointer<Scalar>, sd: Int,
                       v: UnsafePointer<Scalar>, sv: Int = 0, norm: Bool = false) -> Double {
        guard rows > 0, n > 0 else { return 0 }
        if Scalar.self == Float.self {
            return rnn_rows_update_f32(rows, n, f32(m), ldm, f32(a), sa, f32(d), sd, f32(v), sv, norm ? 1 : 0)
        }
        var squares: Scalar = 0
        for r in 0..<rows {
            let ar = a[r * sa], dr = d[r * sd]
            let row = m + r * ldm, vr = v + r * sv
            for j in 0..<n {
                let y = ar * row[j] + dr * vr[j]
                row[j] = y
                squares += y * y
            }
        }
        return norm ? Double(squares) : 0
    }

    /// For `r < rows`, `j < n`: `dst[r·ldd + j] += s[r·ss] · src[r·lds + j]`.
    @inline(__always)
    static func axpy(rows: Int, n: Int, _ dst: UnsafeMutablePointer<Scalar>, ldd: Int,
                     s: UnsafePointer<Scalar>, ss: Int, src: UnsafePointer<Scalar>, lds: Int) {
        guard rows > 0, n > 0 else { return }
        if Scalar.self == Float.self {
            rnn_rows_axpy_f32(rows, n, f32(dst), ldd, f32(s), ss, f32(src), lds)
            return
        }
        for r in 0..<rows {
            let sr = s[r * ss]
            let out = dst + r * ldd, input = src + r * lds
            for j in 0..<n { out[j] += sr * input[j] }
        }
    }

    /// For `r < rows`, `j < n`: `dst[r·ldd + j] += Σ_{t < terms} s[t·st + r·sr] · src[t·lt + r·lds + j]`
    /// (a gradient block summed over lanes: `t` the lane, `s` its errors, `src` its influence rows).
    @inline(__always)
    static func weightedSum(rows: Int, n: Int, _ dst: UnsafeMutablePointer<Scalar>, ldd: Int, terms: Int,
                            s: UnsafePointer<Scalar>, st: Int, sr: Int, src: UnsafePointer<Scalar>, lt: Int, lds: Int) {
        guard rows > 0, n > 0, terms > 0 else { return }
        if Scalar.self == Float.self {
            rnn_rows_weighted_sum_f32(rows, n, f32(dst), ldd, terms, f32(s), st, sr, f32(src), lt, lds)
            return
        }
        for r in 0..<rows {
            let out = dst + r * ldd
            for j in 0..<n {
                var sum: Scalar = 0
                for t in 0..<terms { sum += s[t * st + r * sr] * src[t * lt + r * lds + j] }
                out[j] += sum
            }
        }
    }

    /// An rnn layer's SnAp-1 / RFLO rows one step on, for each lane `t` in `lanes`:
    /// `M̄[r, t, j] = a_{t,r} M̄[r, t, j] + d_{t,r} v_t[j]` at `m + r·ldr + t·ldl + j`, with
    /// `d_{t,r} = d[t·sdt + r]` (σ'(z_r) of the lane) and `a_{t,r} = d_{t,r} · diag[r]` (SnAp-1,
    /// `diag` = the diagonal of `TW`) or `λ` (RFLO, `diag` nil). With errors `e`:
    /// `g[r·ldg + j] = Σ_t e[t·set + r] · M̄_new[r, t, j]` (overwritten), the layer's gradient rows
    /// summed over the lanes in the same pass (each row read and written once).
    @inline(__always)
    static func carry(rows: Int, n: Int, lanes: UnsafePointer<Int>, count: Int, _ m: UnsafeMutablePointer<Scalar>,
                      ldr: Int, ldl: Int, d: UnsafePointer<Scalar>, sdt: Int, diag: UnsafePointer<Scalar>?,
                      lambda: Scalar, v: UnsafePointer<Scalar>, ldv: Int,
                      e: UnsafePointer<Scalar>?, set: Int, g: UnsafeMutablePointer<Scalar>, ldg: Int) {
        guard rows > 0, n > 0 else { return }
        if Scalar.self == Float.self {
            // (`CLong` is `Int` on every platform this builds for.)
            rnn_rows_carry_f32(rows, n, count, lanes, f32(m), ldr, ldl, f32(d), sdt, diag.map { f32($0) },
                               Float(lambda), f32(v), ldv, e.map { f32($0) }, set, f32(g), ldg)
            return
        }
        for r in 0..<rows {
            let out = g + r * ldg
            if e != nil { out.update(repeating: 0, count: n) }
            for q in 0..<count {
                let t = lanes[q]
                let dr = d[t * sdt + r]
                let ar = diag.map { dr * $0[r] } ?? lambda
                let row = m + r * ldr + t * ldl, vt = v + t * ldv
                for j in 0..<n { row[j] = ar * row[j] + dr * vt[j] }
                if let e {
                    let er = e[t * set + r]
                    for j in 0..<n { out[j] += er * row[j] }
                }
            }
        }
    }

    @inline(__always)
    private static func f32(_ p: UnsafeMutablePointer<Scalar>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    @inline(__always)
    private static func f32(_ p: UnsafePointer<Scalar>) -> UnsafePointer<Float> {
        UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
    }
}
