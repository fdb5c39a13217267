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
/// the gradient; memory `C + U²` per lane and layer. How it runs: every lane keeps `Aᵀ` (`U × U`,
/// lanes one after the other), so the lanes' `(TW A)ᵀ = Aᵀ TWᵀ` are one GEMM per layer and step
/// (`B·U × U × U`) whose lane blocks are contiguous; `D` then scales their columns, each lane's
/// `|H A|_F` is one pass, and the gradient of all lanes is one GEMM `[Aᵀq]ᵀ [u]` (`U × B × C`).
extension OnlineGradient {
    func kroneckerAdvance(_ w: UnsafePointer<Scalar>, _ n: Int) {
        var recurrentLayers = 0
        for sh in shapes where sh.isRecurrent { recurrentLayers += 1 }
        var targets = false
        for lane in 0..<lanes {
            if readout.hasTarget[lane] {
                perLayerErrors(w, lane)
                targets = true
            } else {
                (perLayer.errors + lane * stackedStateSize).update(repeating: 0, count: stackedStateSize)
            }
        }
        var r = 0
        for l in shapes.indices where kf.u[l] != nil {
            kroneckerProduct(l, w)
            for lane in 0..<lanes where layers.active[lane] {
                OnlineNoise.fill(kf.signs, count: 2 * recurrentLayers, seed: noiseSeed, epoch: epoch, batch: batchIndex,
                                 lane: lane, step: n)
                kroneckerStep(l, lane, w, c1: kf.signs[2 * r], c2: kf.signs[2 * r + 1])
            }
            if targets { kroneckerGradient(l) }
            r += 1
        }
    }

    /// Every lane's `(TW A)ᵀ = Aᵀ TWᵀ` of layer `l` into `kf.product` (lane blocks `U × U`, one GEMM
    /// over the `B·U` rows; indrnn: `Aᵀ`'s column `k` times `w_t[k]`), before `σ'` scales them.
    func kroneckerProduct(_ l: Int, _ w: UnsafePointer<Scalar>) {
        let sh = shapes[l]
        guard let aAll = kf.a[l] else { return }
        let u = sh.units
        if sh.isDiagonal {
            let wt = w + sh.tw
            for row in 0..<(lanes * u) {
                let src = aAll + row * u, dst = kf.product + row * u
                for k in 0..<u { dst[k] = src[k] * wt[k] }
            }
        } else {
            Scalar.gemm(transA: false, transB: true, m: lanes * u, n: u, k: u, alpha: 1, a: UnsafePointer(aAll), lda: u,
                        b: w + sh.tw, ldb: u, beta: 0, c: kf.product, ldc: u)
        }
    }

    /// One lane's `u`, `Aᵀ` of layer `l` one step on, from `(TW A)ᵀ` in `kf.product`.
    func kroneckerStep(_ l: Int, _ lane: Int, _ w: UnsafePointer<Scalar>, c1: Scalar, c2: Scalar) {
        let sh = shapes[l]
        guard let uAll = kf.u[l], let aAll = kf.a[l] else { return }
        let u = sh.units, i = sh.inputs, C = kf.columns[l]
        let uv = uAll + lane * C, At = aAll + lane * u * u
        let d = layers.ds[l] + lane * u
        let ha = kf.product + lane * u * u, ahat = kf.row
        // â = [x; h_{n-1}; 1]
        ahat.update(from: layerInput(l) + lane * i, count: i)
        (ahat + i).update(from: layers.hPrev[l] + lane * u, count: u)
        ahat[i + u] = 1
        // (H A)ᵀ = (TW A)ᵀ diag(σ'): column k times σ'(z_k).
        for j in 0..<u {
            let row = ha + j * u
            for k in 0..<u { row[k] *= d[k] }
        }
        let nHA = Self.sumOfSquares(ha, u * u).squareRoot(), nU = Self.sumOfSquares(uv, C).squareRoot()
        let nD = Self.sumOfSquares(d, u).squareRoot(), nHat = Self.sumOfSquares(ahat, C).squareRoot()
        let p1 = nHA > 0 && nU > 0 ? (nHA / nU).squareRoot() : 1
        let p2 = nD > 0 && nHat > 0 ? (nD / nHat).squareRoot() : 1
        let su = c1 * Scalar(p1), sh2 = c2 * Scalar(p2)
        for j in 0..<C { uv[j] = su * uv[j] + sh2 * ahat[j] }
        let sa = c1 * Scalar(1 / p1), sd = c2 * Scalar(1 / p2)
        for j in 0..<(u * u) { At[j] = sa * ha[j] }
        for k in 0..<u { At[k * u + k] += sd * d[k] }
    }

    /// `ΔWc^l += Σ_lanes (A_tᵀ q_t) u_tᵀ` at a target step: every lane's `Aᵀ q` (0 without a
    /// target), then one product `Vᵀ [u_1 … u_B]`
    /// (`U × C`) added block by block.
    func kroneckerGradient(_ l: Int) {
        let sh = shapes[l]
        guard let uAll = kf.u[l], let aAll = kf.a[l] else { return }
        let u = sh.units, i = sh.inputs, C = kf.columns[l]
        let v = kf.projected
        for lane in 0..<lanes {
            let vl = v + lane * u
            guard readout.hasTarget[lane] else {
                vl.update(repeating: 0, count: u)
                continue
            }
            // v = Aᵀ q as the row qᵀ (Aᵀ)ᵀ: one small product (a dot-product loop per row is a
            // chain of dependent adds, 20% of a step).
            let q = UnsafePointer(perLayer.errors + lane * stackedStateSize + stateOffset[l])
            Scalar.gemm(transA: false, transB: true, m: 1, n: u, k: u, alpha: 1, a: q, lda: u,
                        b: UnsafePointer(aAll + lane * u * u), ldb: u, beta: 0, c: vl, ldc: u)
        }
        let g = kf.gradientRows
        Scalar.gemm(transA: true, transB: false, m: u, n: C, k: lanes, alpha: 1, a: UnsafePointer(v), lda: u,
                    b: UnsafePointer(uAll), ldb: C, beta: 0, c: g, ldc: C)
        let acc = backward.accumulator, one = UnsafePointer(backward.one)
        OnlineRows.axpy(rows: u, n: i, acc + sh.sw, ldd: i, s: one, ss: 0, src: g, lds: C)
        if sh.isDiagonal {
            for k in 0..<u { acc[sh.tw + k] += g[k * C + i + k] }
        } else {
            OnlineRows.axpy(rows: u, n: u, acc + sh.tw, ldd: u, s: one, ss: 0, src: g + i, lds: C)
        }
        OnlineRows.axpy(rows: u, n: 1, acc + sh.b, ldd: 1, s: one, ss: 0, src: g + i + u, lds: C)
    }
}
