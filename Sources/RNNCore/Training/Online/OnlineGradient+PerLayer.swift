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
        let snap = algorithm == .snap1
        for (l, sh) in shapes.enumerated() {
            guard let Mb = perLayerM[l] else { continue }
            let u = sh.units, i = sh.inputs, G = sh.gates, S = sh.stateSize, C = sh.blockColumns
            let gated = sh.isGated, lstm = sh.kind == .lstm, gru = sh.kind == .gru
            let tw = w + max(sh.tw, 0)
            for lane in 0..<lanes where active[lane] {
                let d = ds[l] + lane * S * G, e = dt[l] + lane * S * G, sc = selfCoef[l] + lane * S
                let x = layerInput(l) + lane * i
                let hp = hPrev[l] + lane * u
                let base = Mb + lane * S * G * C
                for k in 0..<u {
                    // The per-unit block of J (snap1) or λI (rflo): rows h_k (and c_k), columns
                    // h_k (and c_k). J[s, h_k] = Σ_g Dt[s, g] TW[gU + k, k] (+ z_k for gru);
                    // J[s, c_k] = self[s] for lstm.
                    let sH = k, sC = u + k
                    var aHH = lambda, aHC: Scalar = 0, aCH: Scalar = 0, aCC = lambda
                    if snap {
                        aHH = 0
                        for g in 0..<G { aHH += e[sH * G + g] * tw[(g * u + k) * u + k] }
                        if gru { aHH += sc[sH] }
                        if lstm {
                            aHC = sc[sH]
                            aCH = 0
                            for g in 0..<G { aCH += e[sC * G + g] * tw[(g * u + k) * u + k] }
                            aCC = sc[sC]
                        }
                    }
                    // M̄_n = J M̄_{n-1} + I_n, in place, one pass per gate row.
                    for g in 0..<G {
                        let dsH = d[sH * G + g], dtH = e[sH * G + g]
                        let oh = base + (sH * G + g) * C
                        if !lstm {
                            for j in 0..<i { oh[j] = aHH * oh[j] + dsH * x[j] }
                            let ot = oh + i
                            for j in 0..<u { ot[j] = aHH * ot[j] + dtH * hp[j] }
                            oh[i + u] = aHH * oh[i + u] + dsH
                            if gated { oh[i + u + 1] = aHH * oh[i + u + 1] + dtH }
                        } else {
                            let dsC = d[sC * G + g], dtC = e[sC * G + g]
                            let oc = base + (sC * G + g) * C
                            for j in 0..<i {
                                let ph = oh[j], pc = oc[j], xj = x[j]
                                oh[j] = aHH * ph + aHC * pc + dsH * xj
                                oc[j] = aCH * ph + aCC * pc + dsC * xj
                            }
                            for j in 0..<u {
                                let ph = oh[i + j], pc = oc[i + j], hj = hp[j]
                                oh[i + j] = aHH * ph + aHC * pc + dtH * hj
                                oc[i + j] = aCH * ph + aCC * pc + dtC * hj
                            }
                            let jb = i + u, jt = i + u + 1  // b_s, b_t
                            let phb = oh[jb], pcb = oc[jb], pht = oh[jt], pct = oc[jt]
                            oh[jb] = aHH * phb + aHC * pcb + dsH
                            oc[jb] = aCH * phb + aCC * pcb + dsC
                            oh[jt] = aHH * pht + aHC * pct + dtH
                            oc[jt] = aCH * pht + aCC * pct + dtC
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
                        let acc = accumulator
                        let ws = acc + sh.sw + r * i
                        for j in 0..<i { ws[j] += qs * src[j] }
                        let wt = acc + sh.tw + r * u
                        for j in 0..<u { wt[j] += qs * src[i + j] }
                        acc[sh.b + r] += qs * src[i + u]
                        if sh.isGated { acc[sh.bt + r] += qs * src[i + u + 1] }
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
