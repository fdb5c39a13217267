import RNNKernels

/// `rnn`: the Elman layer of the seed (SPEC 2). Parameters `W_s` (U × I), `W_t` (U × U), `b` (U):
/// PyTorch `nn.RNN`'s `weight_ih_l0`, `weight_hh_l0` and `bias_ih_l0 + bias_hh_l0`; initialisation
/// uniform in `±1/sqrt(U)`; `activation` tanh (default), sigmoid, relu, identity.
/// ```
/// z^l_n = SW^l · h^{l-1}_n + TW^l · h^l_{n-1} + b^l,    h^l_n = sigma(z^l_n)
/// delta^l_m = sigma'(z^l_m) ⊙ (E^l_m + TW^lᵀ delta^l_{m+1})        m = n ... a
/// ```
/// Forward: the chunk's input projection is one GEMM (`Network.inputProjection`), the recurrence
/// one (B, U) × (U, U) product per step through the layer's `RecurrenceProduct` (AVX-512 panels
/// with tanh fused, the small C kernel, or BLAS). Backward: the product with `TW` of the
/// recursion, for all lanes at once, then the window's weight gradients as single GEMMs.
/// Online (`OnlineGradient`): `D_n = diag(sigma'(z_n))`, no direct dependence outside `TW`.
enum ElmanLayer: LayerDefinition {
    static let traits = LayerTraits(gates: 1, isRecurrent: true, isGated: false)

    static func forward<Scalar: RNNScalar>(_ network: Network<Scalar>, _ view: BatchView<Scalar>,
                                           layer l: Int, from p: Int, to n: Int) {
        let layer = network.spec.layers[l]
        let b = network.lanes, u = layer.units
        _ = network.inputProjection(view, layer: l, from: p, to: n)
        guard let twOffset = network.layout.entries[l].tw else { return }
        let tw = UnsafePointer(network.params.baseAddress! + twOffset)
        let product = network.recurrence[l]
        product.refreshForward(tw, gateRows: u, units: u)  // from the current weights
        let fusedTanh = layer.activation == .tanh && !network.keepsRowLoss(l)
        for m in (p + 1)...n {
            let zm = network.slot(network.h[l], l, m)
            let hPrev = UnsafePointer(network.slot(network.h[l], l, m - 1))
            switch product {
            case .packed(let pk):
                pk.product(hPrev, pk.forward, into: zm, rows: b, epilogue: fusedTanh ? .tanh : .none)
                if fusedTanh { continue }
            case .smallKernel(let t):
                network.recurrentProduct(hPrev, UnsafePointer(t.baseAddress!), into: zm, rows: b, units: u)
            case .blas:
                Scalar.gemm(transA: false, transB: true, m: b, n: u, k: u,
                            alpha: 1, a: hPrev, lda: u, b: tw, ldb: u,
                            beta: 1, c: zm, ldc: u)
            }
            network.activate(zm, layer: l, rows: b, from: m, view)
        }
    }

    /// Online step: `z = b + x W_sᵀ + h_{n-1} W_tᵀ`, `h = σ(z)`, `Ds = Dt = σ'(z)` (`OnlineGradient.plainLayerStep`).
    static func onlineStep<Scalar: RNNScalar>(_ engine: OnlineGradient<Scalar>, layer l: Int, _ w: UnsafePointer<Scalar>) {
        engine.plainLayerStep(l, w, recurrent: true)
    }

    static func backward<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, _ view: BatchView<Scalar>,
                                            layer l: Int, windowStart lo: Int, from p: Int, to n: Int,
                                            crossing: Scalar) {
        let network = bptt.network
        let layer = network.spec.layers[l]
        let b = network.lanes, u = layer.units
        let top = network.spec.layers.count - 1
        let foldsActivation = network.spec.loss.injectsPreActivation
        guard let twOffset = network.layout.entries[l].tw else { return }
        let tw = UnsafePointer(network.params.baseAddress! + twOffset)
        let product = network.recurrence[l]
        product.refreshBackward(tw)
        // delta^l = sigma' ⊙ (E^l + TW^lᵀ delta^l_{m+1}).
        for m in stride(from: n, through: lo, by: -1) {
            let dm = bptt.deltaSlot(l, m)
            let hm = UnsafePointer(network.slot(network.h[l], l, m))
            var activationApplied = false
            let scaled = m < n && crossing != 1  // delta_m = σ' ⊙ (E + s·TWᵀ delta_{m+1}) = s·σ' ⊙ (E/s + TWᵀ delta_{m+1})
            if scaled {
                let inverse = 1 / crossing
                for j in 0..<(b * u) { dm[j] *= inverse }
            }
            if m < n {
                // TW^lᵀ delta_{m+1} of the recursion, for all lanes at once: row-major
                // (delta (B×U) · TW (U×U))[r, j] = Σ_i delta[r, i] TW[i, j] = (TWᵀ delta_r)_j,
                // so the transposed product reads TW itself (forward reads TWᵀ).
                let next = UnsafePointer(bptt.deltaSlot(l, m + 1))
                switch product {
                case .packed(let pk):  // delta_m = (E_m + delta_{m+1} · TW) ⊙ sigma', fused for tanh
                    activationApplied = layer.activation == .tanh
                    pk.product(next, pk.backward, into: dm, rows: b,
                               epilogue: activationApplied ? .tanhDerivative : .none, h: hm)
                case .smallKernel:
                    network.recurrentProduct(next, tw, into: dm, rows: b, units: u)
                case .blas:
                    Scalar.gemm(transA: false, transB: false, m: b, n: u, k: u,
                                alpha: 1, a: next, lda: u, b: tw, ldb: u,
                                beta: 1, c: dm, ldc: u)
                }
            }
            if !activationApplied { layer.activation.backward(h: hm, g: dm, rows: b, width: u) }
            if scaled { for j in 0..<(b * u) { dm[j] *= crossing } }
            if l == top && foldsActivation && m > p { bptt.addFoldedInjection(from: m, steps: 1, into: dm) }
            checkFinite(UnsafePointer(dm), count: b * u, "delta, layer \(l), step \(m)")
        }
        bptt.addWeightGradients(view, layer: l, windowStart: lo, to: n)
    }
}
