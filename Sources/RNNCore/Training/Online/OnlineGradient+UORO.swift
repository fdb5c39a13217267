/// UORO (Tallec & Ollivier 2018) with one rank-one pair over the whole stack (notes 2.2).
///
/// Per lane: `ã` over the stacked state `[s^{l1}; s^{l2}; …]` (recurrent layers bottom-up, lstm
/// `[h; c]`), `θ̃` over the parameters of layers `0 … L`; `M ≈ ã θ̃ᵀ`. Each step, with `ν` of ±1
/// (`OnlineNoise`, a pure function of (seed, epoch, batch, lane, step)):
/// ```
/// J ã:   one forward-mode step, t^0 = 0, t^l = Jx^l t^{l-1}[h] + J^l ã^l   (dense: Jx t)
/// ν̃ = νᵀ I_n: one same-step VJP, top-down from L, cotangent c^l = ν^l + Jx^{l+1}ᵀ c^{l+1} (on h)
/// ρ0 = sqrt(|θ̃_{n-1}| / |J ã_{n-1}|)   (1 when either norm is 0)
/// ρ1 = sqrt(|ν̃| / |ν|)                 (1 when |ν̃| = 0)
/// ã_n = ρ0 J ã_{n-1} + ρ1 ν,   θ̃_n = θ̃_{n-1} / ρ0 + ν̃ / ρ1
/// Δθ += (q_m · ã^L_m[h]) θ̃_m          at a target step
/// ```
/// Cost per step and lane: about two forward steps (`Σ_l R_l (I_l + U_l)` each for the JVP and
/// the VJP) plus `≈ 4P` for the norms and the pair update; memory `S + P`.
extension OnlineGradient {
    func uoroAdvance(_ w: UnsafePointer<Scalar>, _ n: Int) {
        let S = stackedStateSize, cols = influenceColumns
        for lane in 0..<lanes where active[lane] {
            let a = uoroA + lane * S, theta = uoroTheta + lane * cols
            let ja = uoroJa, nu = uoroNu, nt = uoroNuTilde
            // J ã, bottom-up.
            var tBelow: UnsafeMutablePointer<Scalar>? = nil
            for l in 0...topRecurrent {
                let sh = shapes[l]
                if sh.isRecurrent {
                    let out = ja + stateOffset[l]
                    layerJVP(l, lane, tx: tBelow.map { UnsafePointer($0) }, tPrev: UnsafePointer(a + stateOffset[l]), w, out: out)
                    tBelow = out
                } else if let t = tBelow {
                    // A dense layer's tangent, kept in uoroTangent (alternating halves).
                    let half = (l % 2) * (uoroTangentHalf)
                    let out = uoroTangent + half
                    layerJVP(l, lane, tx: UnsafePointer(t), tPrev: nil, w, out: out)
                    tBelow = out
                }
            }
            // ν and ν̃ = νᵀ I, top-down.
            OnlineNoise.fill(nu, count: S, seed: noiseSeed, epoch: epoch, batch: batchIndex, lane: lane, step: n)
            nt.update(repeating: 0, count: cols)
            var cot = cotangent, below = cotangentBelow
            var haveCot = false
            for l in stride(from: topRecurrent, through: 0, by: -1) {
                let sh = shapes[l]
                if sh.isRecurrent {
                    let off = stateOffset[l]
                    for s in 0..<sh.stateSize {
                        cot[s] = nu[off + s] + (haveCot && s < sh.units ? cot[s] : 0)
                    }
                } else if !haveCot {
                    continue  // a dense layer below every recurrent layer with no cotangent yet: impossible
                }
                layerVJP(l, lane, UnsafePointer(cot), w, grad: nt, cx: l > 0 ? below : nil)
                haveCot = true
                swap(&cot, &below)
            }
            // Norms and the pair update.
            var nTheta = 0.0, nJa = 0.0, nNt = 0.0
            for p in 0..<cols { nTheta += Double(theta[p]) * Double(theta[p]); nNt += Double(nt[p]) * Double(nt[p]) }
            for s in 0..<S { nJa += Double(ja[s]) * Double(ja[s]) }
            nTheta = nTheta.squareRoot(); nJa = nJa.squareRoot(); nNt = nNt.squareRoot()
            let nNu = Double(S).squareRoot()
            let rho0 = nTheta > 0 && nJa > 0 ? (nTheta / nJa).squareRoot() : 1
            let rho1 = nNt > 0 ? (nNt / nNu).squareRoot() : 1
            let r0 = Scalar(rho0), r1 = Scalar(rho1)
            let inv0 = Scalar(1 / rho0), inv1 = Scalar(1 / rho1)
            for s in 0..<S { a[s] = r0 * ja[s] + r1 * nu[s] }
            for p in 0..<cols { theta[p] = theta[p] * inv0 + nt[p] * inv1 }
        }
    }

    /// Half of `uoroTangent`: two alternating dense-layer tangents.
    var uoroTangentHalf: Int { maxWidth }

    /// `Δθ += (q · ã^L[h]) θ̃` for one lane.
    func uoroGradient(_ lane: Int) {
        let S = stackedStateSize, cols = influenceColumns
        let a = uoroA + lane * S + stateOffset[topRecurrent]
        var dot: Scalar = 0
        for k in 0..<shapes[topRecurrent].units { dot += q[k] * a[k] }
        let theta = uoroTheta + lane * cols, acc = accumulator
        for p in 0..<cols { acc[p] += dot * theta[p] }
    }
}
