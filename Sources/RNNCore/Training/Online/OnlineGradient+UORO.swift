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
            let nTheta = Self.sumOfSquares(theta, cols).squareRoot()
            let nNt = Self.sumOfSquares(nt, cols).squareRoot()
            let nJa = Self.sumOfSquares(ja, S).squareRoot()
            let nNu = Double(S).squareRoot()
            let rho0 = nTheta > 0 && nJa > 0 ? (nTheta / nJa).squareRoot() : 1
            let rho1 = nNt > 0 ? (nNt / nNu).squareRoot() : 1
            let r0 = Scalar(rho0), r1 = Scalar(rho1)
            let inv0 = Scalar(1 / rho0), inv1 = Scalar(1 / rho1)
            for s in 0..<S { a[s] = r0 * ja[s] + r1 * nu[s] }
            for p in 0..<cols { theta[p] = theta[p] * inv0 + nt[p] * inv1 }
        }
    }

    /// `Σ p[i]²` in float64, with eight independent partial sums (a single running sum is a
    /// dependency chain that dominated UORO's step).
    @inline(__always)
    static func sumOfSquares(_ p: UnsafePointer<Scalar>, _ n: Int) -> Double {
        var a = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        var i = 0
        while i + 8 <= n {
            let x0 = Double(p[i]), x1 = Double(p[i + 1]), x2 = Double(p[i + 2]), x3 = Double(p[i + 3])
            let x4 = Double(p[i + 4]), x5 = Double(p[i + 5]), x6 = Double(p[i + 6]), x7 = Double(p[i + 7])
            a.0 += x0 * x0; a.1 += x1 * x1; a.2 += x2 * x2; a.3 += x3 * x3
            a.4 += x4 * x4; a.5 += x5 * x5; a.6 += x6 * x6; a.7 += x7 * x7
            i += 8
        }
        while i < n { let x = Double(p[i]); a.0 += x * x; i += 1 }
        return ((a.0 + a.1) + (a.2 + a.3)) + ((a.4 + a.5) + (a.6 + a.7))
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
