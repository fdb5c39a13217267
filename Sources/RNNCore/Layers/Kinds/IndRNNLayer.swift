/// `indrnn`: the independently recurrent layer (Li et al. 2018), an element-wise recurrence
/// (SPEC 2). Parameters `W_s` (U × I), `w_t` (U: the diagonal of `TW`), `b` (U); initialisation
/// uniform in `±1/sqrt(U)` like every kind (the paper's `|w_t| ≤ 1` range holds for `U ≥ 1`);
/// `activation` tanh (default), sigmoid, relu, identity. PyTorch has no module for it: with
/// `nn.Linear(I, U)` holding `W_s`, `b`, the step is `act(linear(x) + w_t * h)`.
/// ```
/// z^l_n = SW^l · h^{l-1}_n + w_t ⊙ h^l_{n-1} + b^l,    h^l_n = sigma(z^l_n)
/// delta^l_m = sigma'(z^l_m) ⊙ (E^l_m + w_t ⊙ delta^l_{m+1})            m = n ... a
/// ΔSW += Delta^lᵀ · H^{l-1}    Δw_t += Σ_rows delta_m ⊙ h_{m-1}    Δb += Σ_rows delta_m
/// ```
/// Truncation cuts the recurrence at `a` exactly as for `rnn`: `h_{a-1}` enters `Δw_t` as a
/// constant. The input projection of a chunk and `ΔSW` are single GEMMs; the recurrence is one
/// element-wise pass per step (no product with a `U × U` matrix).
///
/// Online (SPEC 3.5): the engine's rnn step with the element-wise product (`Ds = Dt = σ'(z)`,
/// `J = diag(σ' ⊙ w_t)`); a parameter of unit `k` touches only unit `k`'s state, so within the
/// layer `snap1` is exact (`OnlineGradient.diagonalCarry`), `rtrl`'s own block a row scaling, and
/// `rflo` the rnn rule with `w_t` for `TW`'s diagonal.
enum IndRNNLayer: LayerDefinition {
    static let traits = LayerTraits(gates: 1, isRecurrent: true, isGated: false, recurrentWeight: .diagonal)

    static func forward<Scalar: RNNScalar>(_ network: Network<Scalar>, _ view: BatchView<Scalar>,
                                           layer l: Int, from p: Int, to n: Int) {
        let b = network.lanes, u = network.spec.layers[l].units
        _ = network.inputProjection(view, layer: l, from: p, to: n)
        guard let twOffset = network.layout.entries[l].tw else { return }
        let wt = UnsafePointer(network.params.baseAddress! + twOffset)
        for m in (p + 1)...n {
            let zm = network.slot(network.h[l], l, m)
            let hPrev = UnsafePointer(network.slot(network.h[l], l, m - 1))
            for r in 0..<b {
                let zr = zm + r * u, hr = hPrev + r * u
                for j in 0..<u { zr[j] += wt[j] * hr[j] }
            }
            network.activate(zm, layer: l, rows: b, from: m, view)
        }
    }

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
        let wt = UnsafePointer(network.params.baseAddress! + twOffset)
        for m in stride(from: n, through: lo, by: -1) {
            let dm = bptt.deltaSlot(l, m)
            if m < n {
                let next = UnsafePointer(bptt.deltaSlot(l, m + 1))
                if crossing == 1 {
                    for r in 0..<b {
                        let dr = dm + r * u, nr = next + r * u
                        for j in 0..<u { dr[j] += wt[j] * nr[j] }
                    }
                } else {
                    for r in 0..<b {
                        let dr = dm + r * u, nr = next + r * u
                        for j in 0..<u { dr[j] += crossing * (wt[j] * nr[j]) }
                    }
                }
            }
            layer.activation.backward(h: UnsafePointer(network.slot(network.h[l], l, m)), g: dm, rows: b, width: u)
            if l == top && foldsActivation && m > p { bptt.addFoldedInjection(from: m, steps: 1, into: dm) }
            checkFinite(UnsafePointer(dm), count: b * u, "delta, layer \(l), step \(m)")
        }
        bptt.addWeightGradients(view, layer: l, windowStart: lo, to: n)  // ΔSW, Δb
        // Δw_t = Σ over the window's rows of delta_m ⊙ h_{m-1}.
        let rows = (n - lo + 1) * b
        let delta = UnsafePointer(bptt.deltaSlot(l, lo))
        let hShifted = UnsafePointer(network.slot(network.h[l], l, lo - 1))
        let dwt = bptt.grads.baseAddress! + twOffset
        for r in 0..<rows {
            let dr = delta + r * u, hr = hShifted + r * u
            for j in 0..<u { dwt[j] += dr[j] * hr[j] }
        }
    }

    /// `dh_m += w_t ⊙ delta_{m+1}` for `m = r0 ... t - 1` (the credit profile's recurrent share).
    static func addRecurrentStateError<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, layer l: Int,
                                                          dh x: UnsafeMutablePointer<Scalar>, from r0: Int, to t: Int) {
        let network = bptt.network
        guard let twOffset = network.layout.entries[l].tw, t > r0 else { return }
        let b = network.lanes, u = network.spec.layers[l].units
        let wt = UnsafePointer(network.params.baseAddress! + twOffset)
        let next = UnsafePointer(bptt.deltaSlot(l, r0 + 1))
        for r in 0..<((t - r0) * b) {
            let xr = x + r * u, nr = next + r * u
            for j in 0..<u { xr[j] += wt[j] * nr[j] }
        }
    }
}
