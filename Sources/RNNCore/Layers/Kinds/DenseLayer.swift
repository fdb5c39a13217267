/// `dense`: no recurrence, applied at every step (SPEC 2). Parameters `W_s` (U × I), `b` (U)
/// (PyTorch `nn.Linear`'s `weight`, `bias`); initialisation uniform in `±1/sqrt(U)`; any
/// activation, softmax on the output layer only (paired with cross-entropy).
/// ```
/// z^l_n = SW^l · h^{l-1}_n + b^l,    h^l_n = sigma(z^l_n),    delta^l_m = sigma'(z^l_m) ⊙ E^l_m
/// ```
/// Forward and backward are whole-chunk / whole-window operations: one GEMM, one activation pass.
/// Online: a dense layer above the top recurrent layer is the readout (its exact same-step
/// gradient); below it, its influence is this step's only.
enum DenseLayer: LayerDefinition {
    static let traits = LayerTraits(gates: 1, isRecurrent: false, isGated: false)

    static func forward<Scalar: RNNScalar>(_ network: Network<Scalar>, _ view: BatchView<Scalar>,
                                           layer l: Int, from p: Int, to n: Int) {
        let z = network.inputProjection(view, layer: l, from: p, to: n)
        network.activate(z, layer: l, rows: (n - p) * network.lanes, from: p + 1, view)
    }

    /// Online step: `z = b + x W_sᵀ`, `h = σ(z)`, `Ds = Dt = σ'(z)` (`OnlineGradient.plainLayerStep`).
    static func onlineStep<Scalar: RNNScalar>(_ engine: OnlineGradient<Scalar>, layer l: Int, _ w: UnsafePointer<Scalar>) {
        engine.plainLayerStep(l, w, recurrent: false)
    }

    static func backward<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, _ view: BatchView<Scalar>,
                                            layer l: Int, windowStart lo: Int, from p: Int, to n: Int,
                                            crossing: Scalar) {
        let network = bptt.network
        let layer = network.spec.layers[l]
        let b = network.lanes, u = layer.units
        let rows = (n - lo + 1) * b
        layer.activation.backward(h: UnsafePointer(network.slot(network.h[l], l, lo)), g: bptt.deltaSlot(l, lo),
                                  rows: rows, width: u)
        if l == network.spec.layers.count - 1 && network.spec.loss.injectsPreActivation {
            bptt.addFoldedInjection(from: p + 1, steps: n - p, into: bptt.deltaSlot(l, p + 1))
        }
        bptt.addWeightGradients(view, layer: l, windowStart: lo, to: n)
    }
}
