import Foundation

/// `lru`: the linear recurrent unit (Orvieto et al. 2023), a complex diagonal recurrence (SPEC 2):
/// ```
/// λ = exp(−exp(nu_log) + i·exp(theta_log))          (|λ| < 1 by construction)
/// s_n = λ ⊙ s_{n-1} + γ ⊙ ((B_re + i·B_im) · x_n)     γ = exp(gamma_log), s_0 = 0 (S complex)
/// h_n = Re((C_re + i·C_im) · s_n) + D ⊙ x_n           (D only when units = inputs)
/// ```
/// Parameters, in layout order: `nu_log`, `theta_log`, `gamma_log` (S), `B_re`, `B_im` (S × I),
/// `C_re`, `C_im` (U × S), `D` (U, when `U = I`). Linear: no activation (put a `dense` layer, or an
/// `rnn`/`indrnn` one, above it for a nonlinearity, as the paper's blocks do).
///
/// Workspace: per step and lane an `aux` row `[s_re | s_im | (Bx)_re | (Bx)_im]` (4S), a delta row
/// `[E (U) | Dx = γ ⊙ δ (2S) | δ (2S)]` with `δ = ∂C/∂s` (re, im), and `λ_re`, `λ_im`, `γ` (then
/// the backward's per-entry sums) in the layer's scratch, refreshed from the weights at each pass. Backward over the window `a ... n`:
/// ```
/// δ_m = [C_reᵀ E_m ; −C_imᵀ E_m] + c⁻¹·conj(λ) ⊙ δ_{m+1}    (m < n; complex product, c the crossing)
/// ΔB_re += (γ ⊙ δ_re)ᵀ X    ΔB_im += (γ ⊙ δ_im)ᵀ X    Δgamma_log += γ ⊙ Σ_m Re(conj(δ_m) ⊙ (B x_m))
/// Δλ = Σ_m conj(s_{m-1}) ⊙ δ_m  →  Δnu_log = −e^ν Re(conj(λ) Δλ),  Δtheta_log = e^θ Im(conj(λ) Δλ)
/// ΔC_re += Eᵀ S_re    ΔC_im −= Eᵀ S_im    ΔD += Σ E ⊙ x     E^{l-1} = Dx · [B_re; B_im] + D ⊙ E
/// ```
/// (`conj(δ)` read as the pair `(∂C/∂Re s, ∂C/∂Im s)`). Truncation cuts `s`: `s_{a-1}` enters
/// `Δλ` as a constant and no error crosses below `a`. The input and output projections of a chunk
/// or window are GEMMs; the recurrence is one element-wise complex pass per step.
///
/// Online (SPEC 3.5; `OnlineGradient+LRU`): the engine carries `s` as `[Re s; Im s]` and recomputes
/// `h` from it each step. Within the layer the influence is element-wise, so `snap1` carries it
/// exactly, complex, in the parameters' own coordinates (`λ`'s and `γ`'s derivatives chained at
/// every step):
/// ```
/// e^ν_n = λ ⊙ e^ν_{n-1} + s_{n-1} ⊙ ∂λ/∂nu_log      e^θ_n = λ ⊙ e^θ_{n-1} + s_{n-1} ⊙ ∂λ/∂theta_log
/// e^γ_n = λ ⊙ e^γ_{n-1} + γ ⊙ (B x_n)                E^B_n[k, j] = λ_k E^B_{n-1}[k, j] + γ_k x_{n,j}
/// Δp += Re(conj(G) ∂s/∂p), G = ∂C/∂Re s + i ∂C/∂Im s = C_reᵀ q − i C_imᵀ q   (∂s/∂B_im = i E^B)
/// ```
/// with `C`, `D` exact at the step (`ΔC_re += q s_reᵀ`, `ΔC_im −= q s_imᵀ`, `ΔD += q ⊙ x`) and the
/// error `Jxᵀ G + D ⊙ q` sent down through the same step; `rtrl` keeps its state rows `2S × cols`
/// and output rows per lane; `uoro` has `2S` noise entries; `rflo` and `kf-rtrl` refuse it.
enum LRULayer: LayerDefinition {
    static let traits = LayerTraits(gates: 1, isRecurrent: true, isGated: false, recurrentWeight: .complexDiagonal,
                                    hasFixedActivation: true)

    /// The online engine's step (`OnlineGradient+LRU`): the state `s` (2S reals per lane) is
    /// carried, `h` recomputed from it.
    static func onlineStep<Scalar: RNNScalar>(_ engine: OnlineGradient<Scalar>, layer l: Int, _ w: UnsafePointer<Scalar>) {
        engine.lruStep(l, w)
    }

    /// The tensor whose offset `ParameterLayout.Entry.sw` holds: the input weights.
    static let inputWeightsName = "B_re"

    static func tensors(_ layer: LayerSpec) -> [(name: String, shape: [Int])]? {
        let s = layer.stateSize, i = layer.inputs, u = layer.units
        var out: [(name: String, shape: [Int])] = [("nu_log", [s]), ("theta_log", [s]), ("gamma_log", [s]),
                                                   ("B_re", [s, i]), ("B_im", [s, i]), ("C_re", [u, s]), ("C_im", [u, s])]
        if hasSkip(layer) { out.append(("D", [u])) }
        return out
    }

    /// `D ⊙ x` is there only when `units = inputs`.
    static func hasSkip(_ layer: LayerSpec) -> Bool { layer.units == layer.inputs }

    static func parameterCount(_ layer: LayerSpec) -> Int {
        let s = layer.stateSize, i = layer.inputs, u = layer.units
        return 3 * s + 2 * s * i + 2 * u * s + (hasSkip(layer) ? u : 0)
    }

    static func workspace(_ layer: LayerSpec) -> LayerWorkspace {
        let s = layer.stateSize
        return LayerWorkspace(aux: 4 * s, delta: layer.units + 4 * s, scratch: 6 * s)
    }

    /// The paper's initialisation (SPEC 2): `|λ|` on the ring `[r_min, r_max]`, uniform in area
    /// (`|λ|² = U(r_min², r_max²)`, as Orvieto et al.'s code), `nu_log = log(−log |λ|)`; phase
    /// `U(0, 2π·max_phase)`, `theta_log = log(phase)`; `gamma_log = log(sqrt(1 − |λ|²))`; `B` normal
    /// with variance `1/(2·I)` per part, `C` `1/(2·S)`, `D` standard normal. Drawn in layout order.
    static func initialValues(_ layer: LayerSpec, _ rng: inout Xoshiro256) -> [Double] {
        let s = layer.stateSize, i = layer.inputs, u = layer.units
        let ring = layer.ring ?? .standard
        var out: [Double] = []
        out.reserveCapacity(parameterCount(layer))
        var modulus = [Double](repeating: 0, count: s)
        for k in 0..<s {
            let squared = rng.uniform(ring.rMin * ring.rMin, ring.rMax * ring.rMax)
            modulus[k] = squared.squareRoot()
            out.append(Foundation.log(-Foundation.log(modulus[k])))
        }
        for _ in 0..<s {
            let phase = 2 * Double.pi * ring.maxPhase * (1 - rng.nextUnit())  // in (0, 2π·max_phase]
            out.append(Foundation.log(phase))
        }
        for k in 0..<s { out.append(Foundation.log((1 - modulus[k] * modulus[k]).squareRoot())) }
        let bScale = 1 / (2 * Double(i)).squareRoot(), cScale = 1 / (2 * Double(s)).squareRoot()
        for _ in 0..<(2 * s * i) { out.append(rng.nextNormal() * bScale) }
        for _ in 0..<(2 * u * s) { out.append(rng.nextNormal() * cScale) }
        if hasSkip(layer) { for _ in 0..<u { out.append(rng.nextNormal()) } }
        return out
    }

    /// Offsets of the tensors of layer `l` in the parameter buffer.
    struct Offsets {
        let nu: Int, theta: Int, gamma: Int, bRe: Int, bIm: Int, cRe: Int, cIm: Int, d: Int?
        init(_ layer: LayerSpec, start: Int) {
            let s = layer.stateSize, i = layer.inputs, u = layer.units
            nu = start; theta = start + s; gamma = start + 2 * s
            bRe = start + 3 * s; bIm = bRe + s * i; cRe = bIm + s * i; cIm = cRe + u * s
            d = LRULayer.hasSkip(layer) ? cIm + u * s : nil
        }
    }

    /// `λ_re`, `λ_im`, `γ` of layer `l` from the current weights, into its scratch.
    static func refreshScratch<Scalar: RNNScalar>(_ network: Network<Scalar>, layer l: Int, _ o: Offsets) {
        let s = network.spec.layers[l].stateSize
        let w = network.params.baseAddress!, out = network.layerScratch[l].baseAddress!
        for k in 0..<s {
            let modulus = Foundation.exp(-Foundation.exp(Double(w[o.nu + k])))
            let phase = Foundation.exp(Double(w[o.theta + k]))
            out[k] = Scalar(modulus * Foundation.cos(phase))
            out[s + k] = Scalar(modulus * Foundation.sin(phase))
            out[2 * s + k] = Scalar(Foundation.exp(Double(w[o.gamma + k])))
        }
    }

    static func forward<Scalar: RNNScalar>(_ network: Network<Scalar>, _ view: BatchView<Scalar>,
                                           layer l: Int, from p: Int, to n: Int) {
        let layer = network.spec.layers[l]
        let b = network.lanes, u = layer.units, i = layer.inputs, s = layer.stateSize
        let rows = (n - p) * b, width = network.auxWidth[l]
        let o = Offsets(layer, start: network.layout.entries[l].b)
        let w = UnsafePointer(network.params.baseAddress!)
        refreshScratch(network, layer: l, o)
        let lre = UnsafePointer(network.layerScratch[l].baseAddress!), lim = lre + s, gamma = lre + 2 * s
        let first = network.auxSlot(l, p + 1)
        // (Bx)_re, (Bx)_im of every row of the chunk: one GEMM with [B_re; B_im] (2S × I).
        let hot = l == 0 ? view.hotInputs : nil
        if let hot {
            let idx = hot + p * b
            for r in 0..<rows {
                let row = first + r * width + 2 * s
                let col = Int(idx[r])
                for k in 0..<s {
                    row[k] = col >= 0 ? w[o.bRe + k * i + col] : 0
                    row[s + k] = col >= 0 ? w[o.bIm + k * i + col] : 0
                }
            }
        } else {
            Scalar.gemm(transA: false, transB: true, m: rows, n: 2 * s, k: i, alpha: 1, a: input(network, view, l, step: p + 1),
                        lda: i, b: w + o.bRe, ldb: i, beta: 0, c: first + 2 * s, ldc: width)
        }
        // s_m = λ ⊙ s_{m-1} + γ ⊙ (B x_m), step by step (complex, element-wise).
        for m in (p + 1)...n {
            let prev = UnsafePointer(network.auxSlot(l, m - 1)), cur = network.auxSlot(l, m)
            for r in 0..<b {
                let pr = prev + r * width, cr = cur + r * width
                for k in 0..<s {
                    let re = pr[k], im = pr[s + k]
                    cr[k] = lre[k] * re - lim[k] * im + gamma[k] * cr[2 * s + k]
                    cr[s + k] = lim[k] * re + lre[k] * im + gamma[k] * cr[3 * s + k]
                }
            }
        }
        // h = S_re C_reᵀ − S_im C_imᵀ (+ D ⊙ x): two GEMMs over the chunk's rows.
        let z = network.slot(network.h[l], l, p + 1)
        Scalar.gemm(transA: false, transB: true, m: rows, n: u, k: s, alpha: 1, a: UnsafePointer(first), lda: width,
                    b: w + o.cRe, ldb: s, beta: 0, c: z, ldc: u)
        Scalar.gemm(transA: false, transB: true, m: rows, n: u, k: s, alpha: -1, a: UnsafePointer(first + s), lda: width,
                    b: w + o.cIm, ldb: s, beta: 1, c: z, ldc: u)
        if let d = o.d {
            if let hot {
                let idx = hot + p * b
                for r in 0..<rows where idx[r] >= 0 { z[r * u + Int(idx[r])] += w[d + Int(idx[r])] }
            } else {
                let x = input(network, view, l, step: p + 1)
                for r in 0..<rows {
                    let zr = z + r * u, xr = x + r * i
                    for k in 0..<u { zr[k] += w[d + k] * xr[k] }
                }
            }
        }
    }

    /// The layer's input rows from step `m` (dense inputs or the layer below's `h`), (rows, I).
    @inline(__always)
    static func input<Scalar: RNNScalar>(_ network: Network<Scalar>, _ view: BatchView<Scalar>, _ l: Int, step m: Int)
        -> UnsafePointer<Scalar> {
        l == 0 ? view.denseInputs! + (m - 1) * network.lanes * network.spec.layers[0].inputs
            : UnsafePointer(network.slot(network.h[l - 1], l - 1, m))
    }

    static func backward<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, _ view: BatchView<Scalar>,
                                            layer l: Int, windowStart lo: Int, from p: Int, to n: Int,
                                            crossing: Scalar) {
        let network = bptt.network
        let layer = network.spec.layers[l]
        let b = network.lanes, u = layer.units, i = layer.inputs, s = layer.stateSize
        let dw = bptt.deltaWidth[l], aw = network.auxWidth[l]
        let rows = (n - lo + 1) * b
        let o = Offsets(layer, start: network.layout.entries[l].b)
        let w = UnsafePointer(network.params.baseAddress!)
        let g = bptt.grads.baseAddress!
        refreshScratch(network, layer: l, o)
        let lre = UnsafePointer(network.layerScratch[l].baseAddress!), lim = lre + s, gamma = lre + 2 * s
        let d0 = bptt.deltaSlot(l, lo)
        let dx = u, ds = u + 2 * s  // column offsets of Dx and δ in a delta row
        // δ's direct part for every row of the window: [C_reᵀ E ; −C_imᵀ E].
        Scalar.gemm(transA: false, transB: false, m: rows, n: s, k: u, alpha: 1, a: UnsafePointer(d0), lda: dw,
                    b: w + o.cRe, ldb: s, beta: 0, c: d0 + ds, ldc: dw)
        Scalar.gemm(transA: false, transB: false, m: rows, n: s, k: u, alpha: -1, a: UnsafePointer(d0), lda: dw,
                    b: w + o.cIm, ldb: s, beta: 0, c: d0 + ds + s, ldc: dw)
        // The recurrence, downward: δ_m += c⁻¹ conj(λ) ⊙ δ_{m+1} (crossing = 1: a product with 1, exact).
        if n > lo {
            for m in stride(from: n - 1, through: lo, by: -1) {
                let cur = bptt.deltaSlot(l, m), next = UnsafePointer(bptt.deltaSlot(l, m + 1))
                for r in 0..<b {
                    let cr = cur + r * dw + ds, nr = next + r * dw + ds
                    for k in 0..<s {
                        let re = nr[k], im = nr[s + k]
                        cr[k] += crossing * (lre[k] * re + lim[k] * im)
                        cr[s + k] += crossing * (lre[k] * im - lim[k] * re)
                    }
                }
            }
        }
        checkFinite(UnsafePointer(d0), count: rows * dw, "lru delta, layer \(l), steps \(lo)...\(n)")
        // Dx = γ ⊙ δ, and the sums for Δγ and Δλ.
        // Σ_m Re(conj(δ) (Bx)), and Δλ's two parts, per state entry, in the scratch after λ, γ.
        let sums = network.layerScratch[l].baseAddress! + 3 * s
        sums.update(repeating: 0, count: 3 * s)
        let gGamma = sums, gRe = sums + s, gIm = sums + 2 * s
        for m in lo...n {
            let dm = bptt.deltaSlot(l, m)
            let am = UnsafePointer(network.auxSlot(l, m)), prev = UnsafePointer(network.auxSlot(l, m - 1))
            for r in 0..<b {
                let row = dm + r * dw, a = am + r * aw, pr = prev + r * aw
                for k in 0..<s {
                    let dre = row[ds + k], dim = row[ds + s + k]
                    row[dx + k] = gamma[k] * dre
                    row[dx + s + k] = gamma[k] * dim
                    gGamma[k] += dre * a[2 * s + k] + dim * a[3 * s + k]
                    gRe[k] += dre * pr[k] + dim * pr[s + k]
                    gIm[k] += dim * pr[k] - dre * pr[s + k]
                }
            }
        }
        for k in 0..<s {
            let lr = Double(lre[k]), li = Double(lim[k]), re = Double(gRe[k]), im = Double(gIm[k])
            g[o.nu + k] += Scalar(-Foundation.exp(Double(w[o.nu + k])) * (re * lr + im * li))
            g[o.theta + k] += Scalar(Foundation.exp(Double(w[o.theta + k])) * (im * lr - re * li))
            g[o.gamma + k] += gamma[k] * gGamma[k]
        }
        // Δ[B_re; B_im] += Dxᵀ X (one GEMM; one-hot inputs: each row's Dx into its column).
        if l == 0, let hot = view.hotInputs {
            let idx = hot + (lo - 1) * b
            for r in 0..<rows where idx[r] >= 0 {
                let col = Int(idx[r]), row = d0 + r * dw + dx
                for k in 0..<(2 * s) { g[o.bRe + k * i + col] += row[k] }
            }
        } else {
            Scalar.gemm(transA: true, transB: false, m: 2 * s, n: i, k: rows, alpha: 1, a: UnsafePointer(d0 + dx), lda: dw,
                        b: input(network, view, l, step: lo), ldb: i, beta: 1, c: g + o.bRe, ldc: i)
        }
        // ΔC_re += Eᵀ S_re, ΔC_im −= Eᵀ S_im.
        let states = UnsafePointer(network.auxSlot(l, lo))
        Scalar.gemm(transA: true, transB: false, m: u, n: s, k: rows, alpha: 1, a: UnsafePointer(d0), lda: dw,
                    b: states, ldb: aw, beta: 1, c: g + o.cRe, ldc: s)
        Scalar.gemm(transA: true, transB: false, m: u, n: s, k: rows, alpha: -1, a: UnsafePointer(d0), lda: dw,
                    b: states + s, ldb: aw, beta: 1, c: g + o.cIm, ldc: s)
        if let d = o.d {
            if l == 0, let hot = view.hotInputs {
                let idx = hot + (lo - 1) * b
                for r in 0..<rows where idx[r] >= 0 { g[d + Int(idx[r])] += d0[r * dw + Int(idx[r])] }
            } else {
                let x = input(network, view, l, step: lo)
                for r in 0..<rows {
                    let er = d0 + r * dw, xr = x + r * i
                    for k in 0..<u { g[d + k] += er[k] * xr[k] }
                }
            }
        }
    }

    /// `Σ_lanes |δ_m|²` over `[Re δ; Im δ]`: the credit of the complex state (its modulus, SPEC 3.1),
    /// from the delta rows the credit pass's backward left (`δ` complete back to the window start).
    static func stateCreditSquares<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, layer l: Int, step m: Int) -> Double? {
        let layer = bptt.network.spec.layers[l]
        let u = layer.units, s = layer.stateSize, dw = bptt.deltaWidth[l]
        let row = UnsafePointer(bptt.deltaSlot(l, m))
        var sum = 0.0
        for r in 0..<bptt.network.lanes {
            let d = row + r * dw + u + 2 * s
            for k in 0..<(2 * s) { sum += Double(d[k]) * Double(d[k]) }
        }
        return sum
    }

    /// `E^{l-1} = Dx · [B_re; B_im] + D ⊙ E`.
    static func sendDown<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, from l: Int, rows: Int, stepFrom m: Int,
                                            into c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        let network = bptt.network
        let layer = network.spec.layers[l]
        let u = layer.units, i = layer.inputs, s = layer.stateSize, dw = bptt.deltaWidth[l]
        let o = Offsets(layer, start: network.layout.entries[l].b)
        let w = UnsafePointer(network.params.baseAddress!)
        let delta = UnsafePointer(bptt.deltaSlot(l, m))
        Scalar.gemm(transA: false, transB: false, m: rows, n: i, k: 2 * s, alpha: 1, a: delta + u, lda: dw,
                    b: w + o.bRe, ldb: i, beta: 0, c: c, ldc: ldc)
        if let d = o.d {
            for r in 0..<rows {
                let cr = c + r * ldc, er = delta + r * dw
                for k in 0..<u { cr[k] += w[d + k] * er[k] }
            }
        }
    }

    /// The credit profile measures the state `s` (`stateCreditSquares`), not `h`: nothing to add
    /// on `h`'s rows.
    static func addRecurrentStateError<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, layer l: Int,
                                                          dh: UnsafeMutablePointer<Scalar>, from r0: Int, to t: Int) {}
}
