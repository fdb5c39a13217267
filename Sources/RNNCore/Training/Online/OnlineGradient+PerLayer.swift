/// SnAp-1 and RFLO: one influence per recurrent layer, over its own parameters, with the
/// structural SnAp-1 pattern (notes 2.3, 2.4; the same definition as
/// `Tests/Reference/online_reference.py`).
///
/// Per lane, `M̄^l` is `(S, G, C)`: state row `s` (unit `k = s mod U`: `h_k`, and `c_k` for lstm)
/// × unit `k`'s gate rows `r = gU + k` × the `C` columns of such a row (`W_s` row: `I`, `W_t` row:
/// `U`, then `b` — or `b_s`, `b_t` for gated layers). The pattern is fixed, never computed from
/// values, so a zero input cannot wipe a carried entry.
/// ```
/// snap1:  M̄_n[s, g, :] = Σ_{s' ∈ unit k} J_n[s, s'] M̄_{n-1}[s', g, :] + I_n[s, g, :]
///         J[s, h_k] = Σ_g Dt[s, g] TW[gU + k, k]  (+ self[s] where s' = src(s))
///         rnn: M̄_n[k, j] = σ'(z_{n,k}) (TW[k, k] M̄_{n-1}[k, j] + â_{n,j})
/// rflo:   M̄_n = λ M̄_{n-1} + I_n        (rnn only: B_n = λ B_{n-1} + σ'(z_n) â_nᵀ)
/// I_n[s, g, :] = [Ds[s,g] x ; Dt[s,g] h_{n-1} ; Ds[s,g] ; Dt[s,g]]
/// ```
/// Gradient at a target step, top-down with the error through the same step only:
/// `ΔWc^l[r, :] += Σ_{s ∈ unit k} q^l_s M̄^l[s, g, :]`, `q^{l-1} = Jx^lᵀ q^l` (`q` on `h`, 0 on `c`);
/// dense layers anywhere get their exact same-step gradient `q^dᵀ I^d`.
///
/// Cost per step and lane: `≈ (S/U)² · P` for the carry (rnn `2P`, lstm `8P`) plus `≈ 2P` for the
/// gradient and the error sent down; memory `(S/U) · P`.
extension OnlineGradient {
    func perLayerAdvance(_ w: UnsafePointer<Scalar>) {
        let lambda = Scalar(rfloDecay)
        for (l, sh) in shapes.enumerated() {
            guard let Mb = perLayerM[l] else { continue }
            let u = sh.units, i = sh.inputs, G = sh.gates, S = sh.stateSize, C = sh.blockColumns
            let unitRows = S / u  // 1 or 2 (lstm)
            for lane in 0..<lanes where active[lane] {
                let d = ds[l] + lane * S * G, e = dt[l] + lane * S * G, sc = selfCoef[l] + lane * S
                let x = layerInput(l) + lane * i
                let hp = hPrev[l] + lane * u
                let base = Mb + lane * S * G * C
                for k in 0..<u {
                    if algorithm == .snap1 {
                        // One unit's rows of M̄_{n-1}, copied (an lstm's h and c rows mix).
                        let prev = unitScratch
                        for a in 0..<unitRows {
                            (prev + a * G * C).update(from: base + (a * u + k) * G * C, count: G * C)
                        }
                        for a in 0..<unitRows {
                            let s = a * u + k
                            // J[s, h_k] and J[s, c_k] (the per-unit block of J).
                            var jh: Scalar = 0
                            for g in 0..<G { jh += e[s * G + g] * w[sh.tw + (g * u + k) * u + k] }
                            var jc: Scalar = 0
                            switch sh.kind {
                            case .lstm: jc = sc[s]
                            case .gru: jh += sc[s]
                            default: break
                            }
                            let out = base + s * G * C
                            for m in 0..<(G * C) {
                                var v = jh * prev[m]
                                if unitRows == 2 { v += jc * prev[G * C + m] }
                                out[m] = v
                            }
                        }
                    } else {
                        let out = base + k * G * C
                        for m in 0..<(G * C) { out[m] *= lambda }
                    }
                    // Immediate influence.
                    for a in 0..<unitRows {
                        let s = a * u + k
                        for g in 0..<G {
                            let dsv = d[s * G + g], dtv = e[s * G + g]
                            let out = base + (s * G + g) * C
                            for j in 0..<i { out[j] += dsv * x[j] }
                            for j in 0..<u { out[i + j] += dtv * hp[j] }
                            out[i + u] += dsv
                            if sh.isGated { out[i + u + 1] += dtv }
                        }
                    }
                }
            }
        }
    }

    /// Top-down same-step gradient for one lane, starting from `q` on `h^L`.
    func perLayerGradient(_ w: UnsafePointer<Scalar>, _ lane: Int) {
        var cot = cotangent, below = cotangentBelow
        // The error on h^L, padded with 0 on an lstm's c.
        let topShape = shapes[topRecurrent]
        cot.update(from: q, count: topShape.units)
        for l in stride(from: topRecurrent, through: 0, by: -1) {
            let sh = shapes[l]
            let u = sh.units, G = sh.gates, S = sh.stateSize, C = sh.blockColumns, i = sh.inputs
            if sh.kind == .lstm { (cot + u).update(repeating: 0, count: u) }
            if let Mb = perLayerM[l] {
                let base = Mb + lane * S * G * C
                for s in 0..<u {  // q is 0 on c rows
                    let qs = cot[s]
                    if qs == 0 { continue }
                    let k = s
                    for g in 0..<G {
                        let r = g * u + k
                        let src = base + (s * G + g) * C
                        let ws = accumulator + sh.sw + r * i
                        for j in 0..<i { ws[j] += qs * src[j] }
                        let wt = accumulator + sh.tw + r * u
                        for j in 0..<u { wt[j] += qs * src[i + j] }
                        accumulator[sh.b + r] += qs * src[i + u]
                        if sh.isGated { accumulator[sh.bt + r] += qs * src[i + u + 1] }
                    }
                }
                if l > 0 { layerVJP(l, lane, UnsafePointer(cot), w, grad: nil, cx: below) }
            } else {
                layerVJP(l, lane, UnsafePointer(cot), w, grad: accumulator, cx: l > 0 ? below : nil)
            }
            swap(&cot, &below)
        }
    }
}
