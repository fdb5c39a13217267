/// Trains a layer stack with truncated backpropagation through time, BPTT(tau_b, tau_max)
/// (SPEC section 3).
///
/// Every lane runs forward step by step. At every step `n` that is a multiple of `tau_b`, and at the
/// last step of the batch's longest lane, one update happens:
/// 1. errors are injected at the steps `m` in `(n_prev, n]` that have a target;
/// 2. they propagate back to `a = max(s, n - tau_max + 1)` with the seed's recursion
///    ```
///    delta^l_m = sigma'(z^l_m) ⊙ (TW^lᵀ delta^l_{m+1} + SW^{l+1}ᵀ delta^{l+1}_m)
///    ΔSW^l += Σ_m delta^l_m h^{l-1}_mᵀ    ΔTW^l += Σ_m delta^l_m h^l_{m-1}ᵀ    Δb^l += Σ_m delta^l_m
///    ```
///    using the activations stored when each step was computed and the current weights; no
///    gradient flows below step `a` (`h^l_{a-1}` enters `ΔTW` as a constant);
/// 3. optional global-norm clipping, then one optimizer step.
///
/// The input projection, the output layer and the weight gradients of a window are single GEMMs
/// over (steps · B) rows; only the recurrence runs step by step. All buffers are sized once per
/// batch shape; the step loop allocates nothing.
///
/// LSTM and GRU layers (`TruncatedBPTT+Gated.swift`) follow the same schedule; their recursion
/// carries `delta` through both `h` and the LSTM cell `c`, and truncation cuts both at `a`.
///
/// With `diagnostics` on (SPEC 3.1, `TruncatedBPTT+Diagnostics.swift`), sampled updates also get
/// `g_ref` (the same backward pass from the reference horizon `a_ref`, into its own buffer) and
/// the credit profile `|∂C_t/∂h^l_{t-k}|`; the workspace then keeps `h` back to `a_ref - 1`.
/// Training is bit-identical with or without them.
///
/// Shape letters: `B` lanes, `U` units of a layer, `I` its inputs, `O` outputs, `G` gate blocks of
/// a gated layer (4 for lstm, 3 for gru).
public final class TruncatedBPTT<Scalar: RNNScalar> {
    public let spec: NetworkSpec
    public let layout: ParameterLayout
    public let truncation: Truncation
    /// What to record about the gradient of sampled updates (SPEC 3.1, `+Diagnostics`); off by default.
    public let diagnostics: GradientDiagnostics
    /// Norm, clip, optimizer step and finiteness of the weights, with the optimizer's state.
    public let update: ParameterUpdate<Scalar>
    /// Max global L2 norm of the update step's clipping; nil for none.
    public var clipNorm: Double? { update.clipNorm }

    /// All parameters, contiguous, in `ParameterLayout` order.
    let params: UnsafeMutableBufferPointer<Scalar>
    /// `ΔSW`, `ΔTW`, `Δb` of the current update, same layout. The diagnostics passes point it at
    /// their own buffers for their duration (`withGradientBuffer`, `+Diagnostics`) and restore it.
    var grads: UnsafeMutableBufferPointer<Scalar>
    /// Buffers of the diagnostics passes (`+Diagnostics`): `g_ref` (layout), the credit pass's
    /// unused weight gradients (layout), and `dC_t/dh^l` over the credit lags, (lags + 1, B, max U).
    var diagnosticBuffers = DiagnosticBuffers<Scalar>()

    // MARK: Workspace (slot j holds step `origin + j`; slot 0 of a fresh batch is the zero state h_0)
    /// h^l per slot, (slots, B, U_l).
    var h: [UnsafeMutableBufferPointer<Scalar>] = []
    /// delta^l per slot, (slots, B, deltaWidth[l]): (·, B, U) for rnn and dense layers; for gated
    /// layers the gate deltas, (·, B, 4U) (lstm: i f g o; gru: r z n_h n_x, see `+Gated`).
    var d: [UnsafeMutableBufferPointer<Scalar>] = []
    /// Gate activations and cell state of gated layers per slot, (slots, B, auxWidth[l]):
    /// lstm `[σ(i) σ(f) tanh(g) σ(o) | c | tanh(c)]` (B, 6U), gru `[r z n | TW_n·h + b_tn]` (B, 4U).
    /// Empty for rnn and dense layers. Slot 0 of a fresh batch holds `c_0 = 0`.
    var aux: [UnsafeMutableBufferPointer<Scalar>] = []
    /// Row widths (strides) of `aux` and `d` per layer: the widths above, for float32 gated layers
    /// plus `gatedRowPad` unused (zero) columns.
    let auxWidth: [Int]
    let deltaWidth: [Int]
    /// Float32 gated layers pad each `aux` and `d` row by one cache line (16 floats, never read
    /// or written after the zero fill). Without it the rows of a large layer sit a multiple of
    /// 4 KB apart (4U = 2048 floats = 8 KB at U = 512): the 11 rows one micro-kernel block of the
    /// per-step product `dh += delta · TW` broadcasts from then map to one L1 set and evict each
    /// other at every depth step (measured on Zen 4: that product 80 → 100 GFLOP/s padded). Only
    /// the layout changes, never a sum; float64 keeps the unpadded rows.
    static var gatedRowPad: Int { Scalar.self == Float.self ? 16 : 0 }
    /// Per-step scratch of gated layers, (3, B, max U): the gru recurrence product `TW·h_{m-1}`
    /// (B, 3U) forward; backward the carries `delta h_{m-1}` and `delta c_{m-1}` (B, U) each.
    var gatedScratch = UnsafeMutableBufferPointer<Scalar>(start: nil, count: 0)
    /// LSTM layers with the vectorised cell (`foldsLSTMBias`), (2, max 4U): the summed bias
    /// `b_s + b_t` the forward cell adds, and the window's bias-gradient sums the backward cell
    /// accumulates.
    let lstmBiasWork: UnsafeMutableBufferPointer<Scalar>
    /// Injected error of the top layer per slot, (slots, B, O): dC/dy (mse) or dC/dz.
    var inject = UnsafeMutableBufferPointer<Scalar>(start: nil, count: 0)
    /// Cross-entropy of each top-layer row, `log Σ_j exp(z_j) - z_t`, from the logits before the
    /// softmax overwrote them (cross-entropy only), (chunk, B).
    var rowLoss = UnsafeMutableBufferPointer<Double>(start: nil, count: 0)
    /// How each layer forms its per-step products with `TW` (packed AVX-512 panels, the small C
    /// kernel on `TWᵀ`, or BLAS), chosen once here; see `RecurrenceProduct`.
    let recurrence: [RecurrenceProduct<Scalar>]
    /// `SWᵀ` (I, G·U) of a gated first layer, for one-hot inputs (refreshed at every forward chunk).
    var oneHotSWT: UnsafeMutableBufferPointer<Scalar>? = nil
    var allocated = (slots: 0, window: 0, chunk: 0, lanes: 0)  // rows (steps · B) each kind of buffer holds
    var lanes = 0           // B of the batch in flight
    var slots = 0           // slots of the batch in flight
    var origin = 0          // step held in slot 0 of `h`
    var deltaOrigin = 0     // step held in row 0 of `d` (the window start `a` of the update)
    var chunkStart = 0      // step held in row 0 of `inject` and `rowLoss` (the chunk's first step)

    /// - Parameters:
    ///   - parameters: initial values in `ParameterLayout` order (float64, rounded to `Scalar`).
    ///   - clipNorm: max global L2 norm, as `torch.nn.utils.clip_grad_norm_`; nil for none.
    ///   - diagnostics: what to record about sampled updates' gradients (SPEC 3.1); the observer of
    ///     `train` receives it in `UpdateEvent.diagnostics`. Training is bit-identical either way.
    public init(spec: NetworkSpec, parameters: [Double], truncation: Truncation,
                optimizer: OptimizerSettings, clipNorm: Double? = nil,
                diagnostics: GradientDiagnostics = GradientDiagnostics()) {
        self.spec = spec
        self.layout = ParameterLayout(spec)
        self.truncation = truncation
        self.diagnostics = diagnostics
        precondition(parameters.count == layout.count, "parameter count \(parameters.count) != \(layout.count)")
        params = .allocate(capacity: max(layout.count, 1))
        grads = .allocate(capacity: max(layout.count, 1))
        for i in 0..<layout.count { params[i] = Scalar(parameters[i]) }
        grads.initialize(repeating: 0)
        self.update = ParameterUpdate(optimizer: optimizer, clipNorm: clipNorm, count: layout.count)
        let pad = Self.gatedRowPad
        auxWidth = spec.layers.map { $0.kind == .lstm ? 6 * $0.units + pad : ($0.kind == .gru ? 4 * $0.units + pad : 0) }
        deltaWidth = spec.layers.map { $0.isGated ? 4 * $0.units + pad : $0.units }
        if let first = spec.layers.first, first.isGated {
            oneHotSWT = .allocate(capacity: max(first.kind.gates * first.units * first.inputs, 1))
            oneHotSWT?.initialize(repeating: 0)
        }
        recurrence = spec.layers.map { RecurrenceProduct.choose(for: $0) }
        let lstmGates = spec.layers.filter { $0.kind == .lstm }.map { 4 * $0.units }.max() ?? 0
        lstmBiasWork = .allocate(capacity: max(2 * lstmGates, 1))
        lstmBiasWork.initialize(repeating: 0)
    }

    deinit {
        params.deallocate()
        grads.deallocate()
        for buffer in h + d + aux { buffer.deallocate() }
        gatedScratch.deallocate()
        lstmBiasWork.deallocate()
        oneHotSWT?.deallocate()
        for product in recurrence { product.deallocate() }
        inject.deallocate()
        rowLoss.deallocate()
        diagnosticBuffers.deallocate()
    }

    /// The current parameters, in float64, `ParameterLayout` order.
    public var parameters: [Double] {
        (0..<layout.count).map { Double(params[$0]) }
    }

    /// Optimizer steps taken so far.
    public var updates: Int { update.steps }

    // MARK: - Training

    /// Trains on one batch (sequence datasets) or one epoch's lanes (stream datasets), starting
    /// from the zero state. `observer` sees every update that happens.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func train(_ batch: SequenceBatch<Scalar>, observer: ((UpdateEvent<Scalar>) -> Void)? = nil) -> BatchResult {
        var result = BatchResult()
        guard batch.steps > 0, batch.lanes > 0 else { return result }
        let (tauB, tauMax) = truncation.resolved(steps: batch.steps)
        // h keeps steps n - keep ... n of the update in flight (keep = tau_max, or the reference
        // horizon when diagnostics are on); the keep - tau_b extra slots amortise the shift to
        // about one (B, U) copy per step (none extra when tau_b = keep).
        let keep = historySteps(steps: batch.steps, tauMax: tauMax)
        prepare(lanes: batch.lanes, slots: min(batch.steps, max(2 * keep - tauB, keep)) + 1,
                windowRows: min(batch.steps, keep), chunkRows: min(batch.steps, tauB))
        prepareDiagnostics(lanes: batch.lanes, steps: batch.steps)
        batch.withView { view in
            var p = 0
            while p < view.steps {
                let n = min(p + tauB, view.steps)
                // This update needs h from a - 1 = n - keep on; later ones start later still.
                makeRoom(through: n, keepFrom: max(0, n - keep), computed: p)
                forward(view, from: p, to: n)
                let (lossSum, elements) = lossAndInjection(view, from: p, to: n, inject: true)
                if elements > 0 {
                    let a = max(1, n - tauMax + 1)
                    let meanLoss = lossSum / Double(elements)
                    guard meanLoss.isFinite else {
                        result.divergence = "loss is \(meanLoss) at step \(n)"
                        return
                    }
                    backward(view, windowStart: a, from: p, to: n)
                    let stepped = update.take(grads, into: params, lossSum: lossSum, elements: elements, step: n,
                                              result: &result) { norm in
                        // Diagnostics of sampled updates: their own passes and buffers, before the step.
                        let sampled = diagnostics.samples(update: update.steps + 1)
                            ? diagnose(view, update: update.steps + 1, from: p, to: n, tauMax: tauMax) : nil
                        observer?(UpdateEvent(step: n, previousStep: p, windowStart: a, loss: meanLoss,
                                              elements: elements, gradNorm: norm,
                                              gradients: UnsafeBufferPointer(grads), diagnostics: sampled))
                    }
                    guard stepped else { return }
                }
                p = n
            }
        }
        return result
    }

    // MARK: - State

    /// The state to save in a checkpoint: the parameters and the optimizer's.
    public func exportState() -> TrainerState {
        update.exportState(parameters: parameters)
    }

    /// Continues from a saved state; false (nothing changed) when it does not fit this trainer
    /// (another network or optimizer).
    public func restore(_ state: TrainerState) -> Bool {
        update.restore(state, into: params)
    }

    // MARK: - Evaluation

    /// Runs `batch` forward from the zero state with the current weights and returns the summed
    /// loss over all target elements and their count; `metric` scores every target step.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func evaluate(_ batch: SequenceBatch<Scalar>, metric: inout MetricAccumulator) -> (lossSum: Double, elements: Int) {
        guard batch.steps > 0, batch.lanes > 0 else { return (0, 0) }
        let chunk = min(batch.steps, 64)  // steps per forward GEMM chunk: no gradient, so no window to keep
        prepare(lanes: batch.lanes, slots: chunk + 1, windowRows: 0, chunkRows: chunk)
        metric.beginBatch(lanes: batch.lanes)
        var total = 0.0, count = 0
        batch.withView { view in
            var p = 0
            while p < view.steps {
                let n = min(p + chunk, view.steps)
                makeRoom(through: n, keepFrom: p, computed: p)
                forward(view, from: p, to: n)
                let (s, c) = lossAndInjection(view, from: p, to: n, inject: false)
                total += s
                count += c
                let top = spec.layers.count - 1
                metric.observe(outputs: UnsafePointer(slot(h[top], top, p + 1)), view: view, p: p, n: n)
                p = n
            }
        }
        metric.endBatch()
        return (total, count)
    }

    // MARK: - Workspace

    /// Sizes the workspace (grows only) and starts a fresh batch: slot 0 of `h` holds the zero
    /// state. `h` keeps `slots` steps (the window and the chunk in flight), `d` the `windowRows`
    /// steps of one backward pass, the output buffers the `chunkRows` steps of one chunk.
    func prepare(lanes: Int, slots: Int, windowRows: Int, chunkRows: Int) {
        self.lanes = lanes
        self.slots = slots
        self.origin = 0
        let need = (slots: lanes * slots, window: lanes * max(windowRows, 1), chunk: lanes * max(chunkRows, 1))
        if need.slots > allocated.slots {
            for buffer in h + aux { buffer.deallocate() }
            h = spec.layers.map { .allocate(capacity: need.slots * $0.units) }
            aux = auxWidth.map { .allocate(capacity: max(need.slots * $0, 1)) }
            for buffer in h + aux { buffer.initialize(repeating: 0) }
            allocated.slots = need.slots
        }
        if need.window > allocated.window {
            for buffer in d { buffer.deallocate() }
            d = deltaWidth.map { .allocate(capacity: need.window * $0) }
            for buffer in d { buffer.initialize(repeating: 0) }
            allocated.window = need.window
        }
        if need.chunk > allocated.chunk {
            inject.deallocate()
            rowLoss.deallocate()
            inject = .allocate(capacity: need.chunk * spec.outputs)
            rowLoss = .allocate(capacity: need.chunk)
            inject.initialize(repeating: 0)
            rowLoss.initialize(repeating: 0)
            allocated.chunk = need.chunk
        }
        let gatedUnits = spec.layers.filter(\.isGated).map(\.units).max() ?? 0
        if gatedUnits > 0 && lanes > allocated.lanes {
            gatedScratch.deallocate()
            gatedScratch = .allocate(capacity: 3 * lanes * gatedUnits)
            gatedScratch.initialize(repeating: 0)
            allocated.lanes = lanes
        }
        for (l, layer) in spec.layers.enumerated() {
            h[l].baseAddress!.update(repeating: 0, count: lanes * layer.units)
            if auxWidth[l] > 0 { aux[l].baseAddress!.update(repeating: 0, count: lanes * auxWidth[l]) }
        }
    }

    /// Pointer to step `n` of a per-slot buffer of layer `l`.
    @inline(__always)
    func slot(_ buffer: UnsafeMutableBufferPointer<Scalar>, _ l: Int, _ n: Int) -> UnsafeMutablePointer<Scalar> {
        internalCheck(n - origin >= 0 && n - origin < slots, "h, layer \(l), step \(n): outside slots \(origin) ..< \(origin + slots)")
        return buffer.baseAddress! + (n - origin) * lanes * spec.layers[l].units
    }

    /// Pointer to step `n` of the gate and cell buffer `aux` of gated layer `l`, (B, auxWidth[l]).
    @inline(__always)
    func auxSlot(_ l: Int, _ n: Int) -> UnsafeMutablePointer<Scalar> {
        internalCheck(n - origin >= 0 && n - origin < slots, "aux, layer \(l), step \(n): outside slots \(origin) ..< \(origin + slots)")
        return aux[l].baseAddress! + (n - origin) * lanes * auxWidth[l]
    }

    /// Pointer to step `n` of the per-chunk output buffer `inject`.
    @inline(__always)
    func outputSlot(_ buffer: UnsafeMutableBufferPointer<Scalar>, _ n: Int) -> UnsafeMutablePointer<Scalar> {
        internalCheck(n >= chunkStart && (n - chunkStart + 1) * lanes <= allocated.chunk,
                      "output buffer, step \(n): outside the chunk starting at \(chunkStart)")
        return buffer.baseAddress! + (n - chunkStart) * lanes * spec.outputs
    }

    /// Pointer to delta^l at step `m` of the current backward window.
    @inline(__always)
    func deltaSlot(_ l: Int, _ m: Int) -> UnsafeMutablePointer<Scalar> {
        internalCheck(m >= deltaOrigin && (m - deltaOrigin + 1) * lanes <= allocated.window,
                      "delta, layer \(l), step \(m): below the window start \(deltaOrigin) or past its rows")
        return d[l].baseAddress! + (m - deltaOrigin) * lanes * deltaWidth[l]
    }

    /// Ensures steps up to `n` have slots. When the buffer is full, the computed steps
    /// `keepFrom ... computed` (at most tau_max + 1 of them) move to the front: one copy of
    /// (B, U) per layer and step, against a (B, U) × (U, U) product per step.
    func makeRoom(through n: Int, keepFrom: Int, computed: Int) {
        guard n - origin >= slots else { return }
        let keep = max(keepFrom, origin)
        let steps = computed - keep + 1
        for (l, layer) in spec.layers.enumerated() where steps > 0 {
            let width = lanes * layer.units
            let base = h[l].baseAddress!
            UnsafeMutableRawPointer(base).copyMemory(
                from: UnsafeRawPointer(base + (keep - origin) * width),
                byteCount: steps * width * MemoryLayout<Scalar>.stride)
            if auxWidth[l] > 0 {  // gates and cell state of gated layers move with h
                let auxRow = lanes * auxWidth[l]
                let auxBase = aux[l].baseAddress!
                UnsafeMutableRawPointer(auxBase).copyMemory(
                    from: UnsafeRawPointer(auxBase + (keep - origin) * auxRow),
                    byteCount: steps * auxRow * MemoryLayout<Scalar>.stride)
            }
        }
        origin = keep
        assert(n - origin < slots, "BPTT workspace too small: step \(n), origin \(origin), slots \(slots)")
    }
}
