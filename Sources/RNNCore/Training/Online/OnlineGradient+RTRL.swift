/// Exact RTRL over the whole stack (SPEC 3.3, notes 2.1).
///
/// For every layer `l ≤ L` the engine keeps `M^l = ∂s^l/∂θ_{0…l}` (all parameter columns of
/// layers `0 … l`, i.e. the blocks `M^{l,j}` for every `j ≤ l`, dense layers included), stored
/// `(S_l, B, cols_l)`: the lanes' influences side by side, so that the time term is one GEMM per
/// layer and step over all lanes. Bottom-up at each step:
/// ```
/// T   = TW^l · M^l_{n-1}[h rows]          (R × B·cols_l)      one GEMM
/// X   = SW^l · M^{l-1}_n[h rows]          (R × B·cols_{l-1})  one GEMM
/// M^l_n[s] = Σ_g Dt[s,g] T[gU+k] + Σ_g Ds[s,g] X[gU+k] + self[s] M^l_{n-1}[src(s)] + I^l_n[s]
/// ```
/// (`k = s mod U`; `src` is `c_k` for lstm, `h_k` for gru; rnn `D_n (SW M^{l-1} + TW M_{n-1}) + I_n`).
/// Dense layers between recurrent layers get `M^d_n = D^d (SW^d M^{d-1}_n + Zp^d)` (no time term).
/// At a target step: `Δθ_{0…L} += q_mᵀ M^L_m[h rows]`.
///
/// Cost per step: Σ_l `R_l U_l B cols_l + R_l I_l B cols_{l-1}` multiply-adds in the two GEMMs
/// (≈ `n²P` per lane for one rnn layer, `≈ 2L²n⁴` for an L-layer stack) plus `O(S G cols)` per lane
/// for the combination; memory `Σ_l S_l B cols_l`.
extension OnlineGradient {
    func rtrlAdvance(_ w: UnsafePointer<Scalar>) {
        let b = lanes
        for l in 0...topRecurrent {
            let sh = shapes[l]
            let u = sh.units, i = sh.inputs, G = sh.gates, S = sh.stateSize, R = sh.rows
            let cols = rtrlColumns[l], wide = b * cols
            let M = rtrlM[l]
            if sh.isRecurrent {
                Scalar.gemm(transA: false, transB: false, m: R, n: wide, k: u, alpha: 1, a: w + sh.tw, lda: u,
                            b: UnsafePointer(M), ldb: wide, beta: 0, c: rtrlTW, ldc: wide)
            }
            let below = l > 0 ? rtrlColumns[l - 1] : 0, wideBelow = b * below
            if l > 0 {
                Scalar.gemm(transA: false, transB: false, m: R, n: wideBelow, k: i, alpha: 1, a: w + sh.sw, lda: i,
                            b: UnsafePointer(rtrlM[l - 1]), ldb: wideBelow, beta: 0, c: rtrlSW, ldc: wideBelow)
            }
            for lane in 0..<b where active[lane] {
                let d = ds[l] + lane * S * G, e = dt[l] + lane * S * G, sc = selfCoef[l] + lane * S
                let x = layerInput(l) + lane * i
                let hp = hPrev[l] + lane * u
                // h rows first: an lstm h row reads the previous c row, which is updated after.
                for s in 0..<S {
                    let k = s % u
                    let row = M + (s * b + lane) * cols
                    switch sh.kind {
                    case .lstm:
                        let src = M + ((u + k) * b + lane) * cols
                        let a = sc[s]
                        for p in 0..<cols { row[p] = a * src[p] }
                    case .gru:
                        let a = sc[s]
                        for p in 0..<cols { row[p] *= a }
                    case .rnn, .dense:
                        row.update(repeating: 0, count: cols)
                    }
                    for g in 0..<G {
                        let r = g * u + k
                        let dsv = d[s * G + g], dtv = e[s * G + g]
                        if sh.isRecurrent && dtv != 0 {
                            let t = rtrlTW + r * wide + lane * cols
                            for p in 0..<cols { row[p] += dtv * t[p] }
                        }
                        if l > 0 && dsv != 0 {
                            let xs = rtrlSW + r * wideBelow + lane * below
                            for p in 0..<below { row[p] += dsv * xs[p] }
                        }
                        // Immediate influence: unit k's own weight row r.
                        sh.addRow(r, a: dsv, t: dtv, x: x, hPrev: hp, into: row)
                    }
                }
            }
        }
    }

    /// `Δθ_{0…L} += q_mᵀ M^L_m` for one lane (`q` on `h^L`).
    func rtrlGradient(_ lane: Int) {
        let l = topRecurrent
        let cols = rtrlColumns[l], b = lanes
        let M = rtrlM[l], acc = accumulator
        for k in 0..<shapes[l].units {
            let qk = q[k]
            if qk == 0 { continue }
            let row = M + (k * b + lane) * cols
            for p in 0..<cols { acc[p] += qk * row[p] }
        }
    }
}
