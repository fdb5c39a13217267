/// The network every training algorithm holds (SPEC 2): the layer stack's parameters `W` (`SW`,
/// `TW`, `b` of every layer, contiguous in `ParameterLayout` order), the update step that changes
/// them (`ParameterUpdate`: norm, clip, optimizer, finiteness) and its checkpoint state, and the
/// forward pass over a batch with the workspace it runs in:
/// ```
/// z^l_n = SW^l · h^{l-1}_n + TW^l · h^l_{n-1} + b^l      (TW term only for recurrent layers)
/// h^l_n = sigma^l(z^l_n)
/// ```
/// with the loss of the steps that have a target and the error each injects (SPEC 2's mean
/// normalisation), `evaluate` (a split run forward from the zero state) and the window loss that
/// `gradcheck` differentiates.
///
/// It is not an algorithm: `TruncatedBPTT` (SPEC 3) keeps its stored activations here and runs
/// its backward recursion over them; the online algorithms (`OnlineTraining`, SPEC 3.3) use its
/// parameters, update step and evaluation, and carry their influence in their own engine.
///
/// Workspace: slot `j` of `h` (and `aux`) holds step `origin + j`; slot 0 of a fresh batch is the
/// zero state `h_0`. The input projection and the output layer of a chunk of steps are single
/// GEMMs over its (steps · B) rows; only the recurrence runs step by step (`+Forward`, gated
/// layers `+Gated`). All buffers are sized once per batch shape (grown only); the step loop
/// allocates nothing.
///
/// Shape letters: `B` lanes, `U` units of a layer, `I` its inputs, `O` outputs, `G` gate blocks of
/// a gated layer (4 for lstm, 3 for gru).
public final class Network<Scalar: RNNScalar> {
    public let spec: NetworkSpec
    public let layout: ParameterLayout
    /// Norm, clip, optimizer step and finiteness of the weights, with the optimizer's state.
    public let update: ParameterUpdate<Scalar>
    /// Max global L2 norm of the update step's clipping; nil for none.
    public var clipNorm: Double? { update.clipNorm }

    /// All parameters, contiguous, in `ParameterLayout` order.
    let params: UnsafeMutableBufferPointer<Scalar>

    // MARK: Workspace (slot j holds step `origin + j`; slot 0 of a fresh batch is the zero state h_0)
    /// h^l per slot, (slots, B, U_l).
    var h: [UnsafeMutableBufferPointer<Scalar>] = []
    /// Gate activations and cell state of gated layers per slot, (slots, B, auxWidth[l]):
    /// lstm `[σ(i) σ(f) tanh(g) σ(o) | c | tanh(c)]` (B, 6U), gru `[r z n | TW_n·h + b_tn]` (B, 4U).
    /// Empty for rnn and dense layers. Slot 0 of a fresh batch holds `c_0 = 0`.
    var aux: [UnsafeMutableBufferPointer<Scalar>] = []
    /// Row width (stride) of `aux` per layer: the widths above, for float32 gated layers plus
    /// `gatedRowPad` unused (zero) columns; lru `[s_re | s_im | (Bx)_re | (Bx)_im]` (B, 4S).
    let auxWidth: [Int]
    /// Per layer, values derived from its weights that its kind keeps between its passes
    /// (`LayerWorkspace.scratch`; lru: `λ_re`, `λ_im`, `γ`).
    let layerScratch: [UnsafeMutableBufferPointer<Scalar>]
    /// Float32 gated layers pad each `aux` row (and `TruncatedBPTT`'s gate-delta rows) by one
    /// cache line (16 floats, never read or written after the zero fill). Without it the rows of a
    /// large layer sit a multiple of 4 KB apart (4U = 2048 floats = 8 KB at U = 512): the 11 rows
    /// one micro-kernel block of the per-step product `dh += delta · TW` broadcasts from then map
    /// to one L1 set and evict each other at every depth step (measured on Zen 4: that product
    /// 80 → 100 GFLOP/s padded). Only the layout changes, never a sum; float64 keeps the unpadded
    /// rows.
    static var gatedRowPad: Int { Scalar.self == Float.self ? 16 : 0 }
    /// Per-step scratch of gated layers, (3, B, max U): the gru recurrence product `TW·h_{m-1}`
    /// (B, 3U) forward; backward (`TruncatedBPTT+Gated`) the carries `delta h_{m-1}` and
    /// `delta c_{m-1}` (B, U) each.
    var gatedScratch = UnsafeMutableBufferPointer<Scalar>(start: nil, count: 0)
    /// Gated layers whose vectorised cell folds the bias (`GatedLayerDefinition.foldsBiasInCell`),
    /// (2, max G·U): the summed bias `b_s + b_t` the forward cell adds, and the window's
    /// bias-gradient sums the backward cell accumulates.
    let cellBiasWork: UnsafeMutableBufferPointer<Scalar>
    /// Injected error of the top layer per step of the chunk, (chunk, B, O): dC/dy (mse) or dC/dz.
    var inject = UnsafeMutableBufferPointer<Scalar>(start: nil, count: 0)
    /// Cross-entropy of each top-layer row, `log Σ_j exp(z_j) - z_t`, from the logits before the
    /// softmax overwrote them (cross-entropy only), (chunk, B).
    var rowLoss = UnsafeMutableBufferPointer<Double>(start: nil, count: 0)
    /// How each layer forms its per-step products with `TW` (packed AVX-512 panels, the small C
    /// kernel on `TWᵀ`, or BLAS), chosen once here; see `RecurrenceProduct`.
    let recurrence: [RecurrenceProduct<Scalar>]
    /// `SWᵀ` (I, G·U) of a gated first layer, for one-hot inputs (refreshed at every forward chunk).
    var oneHotSWT: UnsafeMutableBufferPointer<Scalar>? = nil
    var allocated = (slots: 0, chunk: 0, lanes: 0)  // rows (steps · B) each kind of buffer holds
    var lanes = 0           // B of the batch in flight
    var slots = 0           // slots of the batch in flight
    var origin = 0          // step held in slot 0 of `h`
    var chunkStart = 0      // step held in row 0 of `inject` and `rowLoss` (the chunk's first step)

    /// - Parameters:
    ///   - parameters: initial values in `ParameterLayout` order (float64, rounded to `Scalar`).
    ///   - clipNorm: max global L2 norm, as `torch.nn.utils.clip_grad_norm_`; nil for none.
    public init(spec: NetworkSpec, parameters: [Double], optimizer: OptimizerSettings, clipNorm: Double? = nil) {
        self.spec = spec
        self.layout = ParameterLayout(spec)
        precondition(parameters.count == layout.count, "parameter count \(parameters.count) != \(layout.count)")
        params = .allocate(capacity: max(layout.count, 1))
        for i in 0..<layout.count { params[i] = Scalar(parameters[i]) }
        self.update = ParameterUpdate(optimizer: optimizer, clipNorm: clipNorm, count: layout.count)
        let pad = Self.gatedRowPad
        auxWidth = spec.layers.map { layer in
            let columns = layer.kind.workspace(layer).aux
            return columns > 0 ? columns + (layer.isGated ? pad : 0) : 0
        }
        layerScratch = spec.layers.map { layer in
            let buffer = UnsafeMutableBufferPointer<Scalar>.allocate(capacity: max(layer.kind.workspace(layer).scratch, 1))
            buffer.initialize(repeating: 0)
            return buffer
        }
        if let first = spec.layers.first, first.isGated {
            oneHotSWT = .allocate(capacity: max(first.kind.gates * first.units * first.inputs, 1))
            oneHotSWT?.initialize(repeating: 0)
        }
        recurrence = spec.layers.map { $0.kind.traits.recurrentWeight == .matrix ? RecurrenceProduct.choose(for: $0) : .blas }
        let gateRows = spec.layers.filter(\.isGated).map { $0.kind.gates * $0.units }.max() ?? 0
        cellBiasWork = .allocate(capacity: max(2 * gateRows, 1))
        cellBiasWork.initialize(repeating: 0)
    }

    deinit {
        params.deallocate()
        for buffer in h + aux + layerScratch { buffer.deallocate() }
        gatedScratch.deallocate()
        cellBiasWork.deallocate()
        oneHotSWT?.deallocate()
        for product in recurrence { product.deallocate() }
        inject.deallocate()
        rowLoss.deallocate()
    }

    /// The current parameters, in float64, `ParameterLayout` order.
    public var parameters: [Double] {
        (0..<layout.count).map { Double(params[$0]) }
    }

    /// Optimizer steps taken so far.
    public var updates: Int { update.steps }

    // MARK: - State

    /// The state to save in a checkpoint: the parameters and the optimizer's.
    public func exportState() -> TrainerState {
        update.exportState(parameters: parameters)
    }

    /// Continues from a saved state; false (nothing changed) when it does not fit this network
    /// (another layer stack or optimizer).
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
        prepare(lanes: batch.lanes, slots: chunk + 1, chunkRows: chunk)
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

    /// Mean loss of steps `(p, n]` when steps `1 ..< a` run with `frozen` and `a ... n` with
    /// `weights` (the function `GradientCheck` differentiates: `h_{a-1}` is a constant, as
    /// truncation demands). Leaves the parameters as they were.
    public func windowLoss(_ batch: SequenceBatch<Scalar>, weights: [Double], frozen: [Double], a: Int, p: Int, n: Int) -> Double {
        let saved = (0..<layout.count).map { params[$0] }
        defer { for i in 0..<layout.count { params[i] = saved[i] } }
        prepare(lanes: batch.lanes, slots: n + 1, chunkRows: n)
        return batch.withView { view in
            for i in 0..<layout.count { params[i] = Scalar(frozen[i]) }
            if a > 1 { forward(view, from: 0, to: a - 1) }
            for i in 0..<layout.count { params[i] = Scalar(weights[i]) }
            forward(view, from: a - 1, to: n)
            let (sum, count) = lossAndInjection(view, from: p, to: n, inject: false)
            return count > 0 ? sum / Double(count) : 0
        }
    }

    // MARK: - Workspace

    /// Sizes the workspace (grows only) and starts a fresh batch: slot 0 of `h` holds the zero
    /// state. `h` keeps `slots` steps (the window and the chunk in flight), the output buffers the
    /// `chunkRows` steps of one chunk.
    func prepare(lanes: Int, slots: Int, chunkRows: Int) {
        self.lanes = lanes
        self.slots = slots
        self.origin = 0
        let need = (slots: lanes * slots, chunk: lanes * max(chunkRows, 1))
        if need.slots > allocated.slots {
            for buffer in h + aux { buffer.deallocate() }
            h = spec.layers.map { .allocate(capacity: need.slots * $0.units) }
            aux = auxWidth.map { .allocate(capacity: max(need.slots * $0, 1)) }
            for buffer in h + aux { buffer.initialize(repeating: 0) }
            allocated.slots = need.slots
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
        assert(n - origin < slots, "workspace too small: step \(n), origin \(origin), slots \(slots)")
    }
}
