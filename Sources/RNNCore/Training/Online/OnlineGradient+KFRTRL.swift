/// Kronecker-factored RTRL (Mujika, Meier & Steger 2018; SPEC 3.5), per layer like rflo, on rnn
/// and indrnn layers.
///
/// Per lane and recurrent layer `l ≤ L`: `u` (`C = I + U + 1`, the columns of `Wc = [SW | TW | b]`)
/// and `A` (`U × U`), with the influence `M[k; i, j] ≈ A[k, i] u[j]` (`∂h_k/∂Wc[i, j]`). The exact
/// recursion `M_n = u_{n-1} ⊗ (H_n A_{n-1}) + â_n ⊗ D_n` (`H_n = D_n TW`, `D_n = diag(σ'(z_n))`,
/// `â_n = [x_n; h_{n-1}; 1]`) is a sum of two Kronecker products; it is replaced by one unbiased
/// product with independent signs `c1, c2` (±1, `OnlineNoise`, a pure function of
/// (seed, epoch, batch, lane, step): entries `2r`, `2r + 1` of the step's signs for the `r`-th
/// recurrent layer bottom-up):
/// ```
/// p1 = sqrt(|H_n A_{n-1}|_F / |u_{n-1}|)     p2 = sqrt(|D_n|_F / |â_n|)     (each 1 when a norm is 0)
/// u_n = c1 p1 u_{n-1} + c2 p2 â_n
/// A_n = c1 (1/p1) H_n A_{n-1} + c2 (1/p2) D_n                 u_0 = 0, A_0 = 0
/// ΔWc += (A_mᵀ q_m) u_mᵀ                                      at a target step
/// ```
/// so that `E[A_n ⊗ u_n] = M_n` given the past (the cross terms have mean 0), and the first step is
/// exact (`u_0 = 0`). On indrnn `TW = diag(w_t)`: `H_n A = diag(σ' ⊙ w_t) A` (a row scaling), and
/// the gradient of `w_t[k]` is `ΔWc`'s `(k, I + k)` entry. The errors `q^l` are the same-step ones of
/// snap1 and rflo (`perLayerErrors`); dense layers get their exact same-step gradient.
///
/// Cost per step and lane: `U³` for `H A` (rnn; indrnn `U²`), `≈ 3P` for the factors' update and
/// the gradient; memory `C + U²` per lane and layer.
extension OnlineGradient {
    func kroneckerAdvance(_ w: UnsafePointer<Scalar>, _ n: Int) {
        var recurrentLayers = 0
        for sh in shapes where sh.isRecurrent { recurrentLayers += 1 }
        for lane in 0..<lanes {
            if readout.hasTarget[lane] {
                perLayerErrors(w, lane)
            } else {
                (perLayer.errors + lane * stackedStateSize).update(repeating: 0, count: stackedStateSize)
            }
        }
        for lane in 0..<lanes where layers.active[lane] {
            OnlineNoise.fill(kf.signs, count: 2 * recurrentLayers, seed: noiseSeed, epoch: epoch, batch: batchIndex,
                             lane: lane, step: n)
            var r = 0
            for l in shapes.indices where kf.u[l] != nil {
                kroneckerStep(l, lane, w, c1: kf.signs[2 * r], c2: kf.signs[2 * r + 1])
                if readout.hasTarget[lane] { kroneckerGradient(l, lane) }
                r += 1
            }
        }
    }

    /// One lane's `u`, `A` of layer `l` one step on.
    func kroneckerStep(_ l: Int, _ lane: Int, _ w: UnsafePointer<Scalar>, c1: Scalar, c2: Scalar) {
        let sh = shapes[l]
        guard let uAll = kf.u[l], let aAll = kf.a[l] else { return }
        let u = sh.units, i = sh.inputs, C = kf.columns[l]
        let uv = uAll + lane * C, A = aAll + lane * u * u
        let d = layers.ds[l] + lane * u
        let ha = kf.product, ahat = kf.row
        // â = [x; h_{n-1}; 1]
        ahat.update(from: layerInput(l) + lane * i, count: i)
        (ahat + i).update(from: layers.hPrev[l] + lane * u, count: u)
        ahat[i + u] = 1
        // H A = diag(σ') TW A (rnn: one GEMM, then the rows scaled), diag(σ' ⊙ w_t) A (indrnn).
        if sh.isDiagonal {
            let wt = w + sh.tw
            for k in 0..<u {
                let s = d[k] * wt[k], src = A + k * u, dst = ha + k * u
                for j in 0..<u { dst[j] = s * src[j] }
            }
        } else {
            Scalar.gemm(transA: false, transB: false, m: u, n: u, k: u, alpha: 1, a: w + sh.tw, lda: u,
                        b: UnsafePointer(A), ldb: u, beta: 0, c: ha, ldc: u)
            for k in 0..<u {
                let s = d[k], row = ha + k * u
                for j in 0..<u { row[j] *= s }
            }
        }
        let nHA = Self.sumOfSquares(ha, u * u).squareRoot(), nU = Self.sumOfSquares(uv, C).squareRoot()
        let nD = Self.sumOfSquares(d, u).squareRoot(), nHat = Self.sumOfSquares(ahat, C).squareRoot()
        let p1 = nHA > 0 && nU > 0 ? (nHA / nU).squareRoot() : 1
        let p2 = nD > 0 && nHat > 0 ? (nD / nHat).squareRoot() : 1
        let su = c1 * Scalar(p1), sh2 = c2 * Scalar(p2)
        for j in 0..<C { uv[j] = su * uv[j] + sh2 * ahat[j] }
        let sa = c1 * Scalar(1 / p1), sd = c2 * Scalar(1 / p2)
        for k in 0..<u {
            let dst = A + k * u, src = ha + k * u
            for j in 0..<u { dst[j] = sa * src[j] }
            dst[k] += sd * d[k]
        }
    }

    /// `ΔWc^l += (Aᵀ q^l) uᵀ` for one lane at a target step.
    func kroneckerGradient(_ l: Int, _ lane: Int) {
        let sh = shapes[l]
        guard let uAll = kf.u[l], let aAll = kf.a[l] else { return }
        let u = sh.units, i = sh.inputs, C = kf.columns[l]
        let uv = uAll + lane * C, A = aAll + lane * u * u
        let q = perLayer.errors + lane * stackedStateSize + stateOffset[l]
        let v = kf.projected
        v.update(repeating: 0, count: u)
        for k in 0..<u {
            let qk = q[k]
            if qk == 0 { continue }
            let row = A + k * u
            for j in 0..<u { v[j] += qk * row[j] }
        }
        let acc = backward.accumulator
        for k in 0..<u {
            let vk = v[k]
            let ws = acc + sh.sw + k * i
            for j in 0..<i { ws[j] += vk * uv[j] }
            if sh.isDiagonal {
                acc[sh.tw + k] += vk * uv[i + k]
            } else {
                let wt = acc + sh.tw + k * u
                for j in 0..<u { wt[j] += vk * uv[i + j] }
            }
            acc[sh.b + k] += vk * uv[i + u]
        }
    }
}
