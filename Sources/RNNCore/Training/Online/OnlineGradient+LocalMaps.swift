/// The per-lane local maps of one step, shared by snap1, rflo and uoro: the weight rows' factors
/// of a cotangent on a layer's new state, the layer's same-step VJP, and what it sends down.
extension OnlineGradient {
    /// The weight rows' factors of one lane's cotangent `cot` on layer `l`'s new state (S):
    /// `cs[r] = Σ_{s ∈ unit k} Ds[s, g] cot[s]`, `ct[r] = Σ Dt[s, g] cot[s]` for `r = gU + k`
    /// (R each), so that `cotᵀ I^l` is `cs ⊗ x` on `W_s`, `ct ⊗ h_{n-1}` on `W_t`, `cs` on `b_s`,
    /// `ct` on `b_t`.
    func weightRowFactors(_ l: Int, _ lane: Int, _ cot: UnsafePointer<Scalar>,
                          cs: UnsafeMutablePointer<Scalar>, ct: UnsafeMutablePointer<Scalar>) {
        let sh = shapes[l]
        let u = sh.units, G = sh.gates, S = sh.stateSize, R = sh.rows
        let d = layers.ds[l] + lane * S * G, e = layers.dt[l] + lane * S * G
        if G == 1 && S == u {
            for k in 0..<u { cs[k] = d[k] * cot[k]; ct[k] = e[k] * cot[k] }
            return
        }
        cs.update(repeating: 0, count: R)
        ct.update(repeating: 0, count: R)
        for s in 0..<S {
            let k = s % u, v = cot[s]
            if v == 0 { continue }
            for g in 0..<G {
                cs[g * u + k] += d[s * G + g] * v
                ct[g * u + k] += e[s * G + g] * v
            }
        }
    }

    /// Same-step VJP of layer `l` for one lane: with the cotangent `cot` on its new state (S),
    /// adds `cotᵀ I^l` to `grad` (flat layout; nil to skip) and writes `Jxᵀ cot` (I) into `cx`
    /// (nil to skip). `cs = Dsᵀ cot`, `ct = Dtᵀ cot` per weight row.
    func layerVJP(_ l: Int, _ lane: Int, _ cot: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>,
                  grad: UnsafeMutablePointer<Scalar>?, cx: UnsafeMutablePointer<Scalar>?) {
        let sh = shapes[l]
        let u = sh.units, i = sh.inputs, R = sh.rows
        let cs = backward.rowScratchS, ct = backward.rowScratchT
        weightRowFactors(l, lane, cot, cs: cs, ct: ct)
        if let grad {
            let x = layerInput(l) + lane * i
            let hp = layers.hPrev[l] + lane * u
            for r in 0..<R { sh.addRow(r, a: cs[r], t: ct[r], x: x, hPrev: hp, into: grad) }
        }
        if let cx { sendDown(l, cs: UnsafePointer(cs), w, into: cx) }
    }

    /// `Jxᵀ cot = SWᵀ cs` (I): what layer `l`'s cotangent sends to its input, from its row factors.
    func sendDown(_ l: Int, cs: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>, into cx: UnsafeMutablePointer<Scalar>) {
        let sh = shapes[l]
        let i = sh.inputs
        for j in 0..<i {
            var v: Scalar = 0
            for r in 0..<sh.rows { v += w[sh.sw + r * i + j] * cs[r] }
            cx[j] = v
        }
    }
}
