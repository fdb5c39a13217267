import RNNKernels

/// What a gated layer kind (`LSTMLayer`, `GRULayer`) adds to `LayerDefinition`: its cell, one
/// step of all lanes forward and backward. The scaffolding around the cells — the chunk's input
/// projection into the G·U gate pre-activations (one GEMM), the window's weight gradients (single
/// GEMMs over its (steps · B) rows) and the bias gradients — is shared (`GatedLayer`).
///
/// Buffers: `Network.aux[l]` per slot holds the gate activations (and the cell), the delta rows of
/// `TruncatedBPTT` the gate deltas, (B, 4U): lstm `[i f g o]`, gru `[r z n_h n_x]` (so `Delta_h`
/// is the contiguous first G·U columns, the one the per-step recurrence product reads).
protocol GatedLayerDefinition: LayerDefinition {
    /// Whether the vectorised cell adds `b = b_s + b_t` itself (folded bias): the chunk's rows
    /// start from `X · SWᵀ` alone and the backward cell sums the bias gradient as it writes the
    /// deltas (lstm).
    static var foldsBiasInCell: Bool { get }
    /// The columns of `b_t` added to the pre-activations before the cell (lstm all `4U`; gru `2U`:
    /// `b_tn` goes inside `r ⊙ (·)`).
    static func recurrentBiasColumnsBeforeCell(units: Int) -> Int
    /// Whether the backward cell leaves a direct path in `dhNext` that the recurrence product
    /// adds to (gru: `dh ⊙ z`), rather than `dhNext` being that product alone (lstm).
    static var recurrentErrorAccumulates: Bool { get }

    /// Step `m` of layer `l` forward for every lane: `aux` row `m` holds the input side (and the
    /// biases before the cell) on entry; the recurrence product `TW·h_{m-1}` and the cell make
    /// the gates, the cell state and `h_m`.
    static func forwardStep<Scalar: RNNScalar>(_ network: Network<Scalar>, layer l: Int, step m: Int,
                                               biasSum: UnsafePointer<Scalar>?, vectorised: Bool)
    /// Step `m` of layer `l` backward for every lane: on entry the first U columns of the delta
    /// rows `dm` hold `E`, `dhNext` (and `dcNext`) the carries from step `m + 1`; on exit `dm`
    /// holds the gate deltas and the carries what the cell passes to step `m − 1` (before the
    /// recurrence product).
    static func backwardStep<Scalar: RNNScalar>(_ network: Network<Scalar>, layer l: Int, step m: Int,
                                                delta dm: UnsafeMutablePointer<Scalar>, deltaStride dw: Int,
                                                dhNext: UnsafeMutablePointer<Scalar>, dcNext: UnsafeMutablePointer<Scalar>,
                                                biasGradient: UnsafeMutablePointer<Scalar>?, vectorised: Bool)
}

extension GatedLayerDefinition {
    /// A gated kind's chunk forward and window backward are the shared scaffolding around its cell.
    static func forward<Scalar: RNNScalar>(_ network: Network<Scalar>, _ view: BatchView<Scalar>,
                                           layer l: Int, from p: Int, to n: Int) {
        GatedLayer.forward(Self.self, network, view, layer: l, from: p, to: n)
    }

    static func backward<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, _ view: BatchView<Scalar>,
                                            layer l: Int, windowStart lo: Int, from p: Int, to n: Int,
                                            crossing: Scalar) {
        GatedLayer.backward(Self.self, bptt, view, layer: l, windowStart: lo, to: n, crossing: crossing)
    }
}

/// The scaffolding every gated kind shares (see `GatedLayerDefinition`). Backward, step by step
/// from `n` down to the window start `a`, with `E^l_m` the error arriving from the layer above
/// (or injected) and `delta` the gradients w.r.t. the gate pre-activations:
/// ```
/// dh_m = E^l_m + TWᵀ delta_{m+1}                  (+ the cell's direct path: gru z ⊙ dh_{m+1})
/// ΔSW += Delta_xᵀ · H^{l-1}   ΔTW += Delta_hᵀ · H^l_{shifted by one}   Δb_s += Σ Delta_x   Δb_t += Σ Delta_h
/// ```
/// Truncation: the recursion stops at `a`; `h_{a-1}` and `c_{a-1}` enter only as stored
/// constants (in `ΔTW` and the cells' deltas), so no gradient flows through `h` or `c` below `a`.
enum GatedLayer {
    /// `c (B, G·U, row stride ldc) (+)= h_{m-1} · TWᵀ` of gated layer `l` through its
    /// `RecurrenceProduct` (packed AVX-512 panels, the small C kernel on `TWᵀ`, or BLAS):
    /// added to `c` with `accumulate`, else written over it.
    @inline(__always)
    static func recurrentProduct<Scalar: RNNScalar>(_ network: Network<Scalar>, layer l: Int, _ hPrev: UnsafePointer<Scalar>,
                                                    into c: UnsafeMutablePointer<Scalar>, ldc: Int, accumulate: Bool) {
        let b = network.lanes, u = network.spec.layers[l].units, gu = network.spec.layers[l].kind.gates * u
        switch network.recurrence[l] {
        case .packed(let pk):
            if !accumulate { for r in 0..<b { (c + r * ldc).update(repeating: 0, count: gu) } }
            pk.gateProduct(hPrev, into: c, ldc: ldc, rows: b)
        case .smallKernel(let t):
            if !accumulate { for r in 0..<b { (c + r * ldc).update(repeating: 0, count: gu) } }
            rnn_sgemm_nn_acc(b, gu, u, f32(hPrev), u, f32(UnsafePointer(t.baseAddress!)), gu, f32(c), ldc)
        case .blas:
            let tw = UnsafePointer(network.params.baseAddress! + network.layout.entries[l].tw!)
            Scalar.gemm(transA: false, transB: true, m: b, n: gu, k: u, alpha: 1, a: hPrev, lda: u,
                        b: tw, ldb: u, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
        }
    }

    /// Steps `(p, n]` of gated layer `l` forward with the current weights.
    static func forward<Kind: GatedLayerDefinition, Scalar: RNNScalar>(_: Kind.Type, _ network: Network<Scalar>,
                                                                       _ view: BatchView<Scalar>, layer l: Int,
                                                                       from p: Int, to n: Int) {
        let layer = network.spec.layers[l]
        let e = network.layout.entries[l]
        let b = network.lanes, u = layer.units, i = layer.inputs
        let gu = Kind.traits.gates * u
        let aw = network.auxWidth[l]
        let rows = (n - p) * b
        let w = network.params.baseAddress!
        guard let twOffset = e.tw, let btOffset = e.bt else { return }
        let sw = UnsafePointer(w + e.sw), tw = UnsafePointer(w + twOffset)
        let bs = UnsafePointer(w + e.b), bt = UnsafePointer(w + btOffset)
        let product = network.recurrence[l]
        let vectorisedCell: Bool
        if case .packed = product { vectorisedCell = true } else { vectorisedCell = false }
        // Pre-activations of the chunk, (rows, G·U) at row stride aw: b_s + b_t (the columns of b_t
        // the kind adds before its cell), then + X · SWᵀ as one GEMM. A cell that folds the bias
        // adds it itself: its rows start from X · SWᵀ alone (GEMM with beta 0, no pass filling
        // (rows, G·U) with the bias), and the cell forms (X·SWᵀ + h·TWᵀ) + (b_s + b_t) — in float32
        // the same sum in another order.
        let foldBias = Kind.foldsBiasInCell && vectorisedCell
        let biasSum = network.cellBiasWork.baseAddress!  // foldBias: b_s + b_t, (G·U)
        let pre = network.auxSlot(l, p + 1)
        if foldBias {
            for j in 0..<gu { biasSum[j] = bs[j] + bt[j] }
        } else {
            let folded = Kind.recurrentBiasColumnsBeforeCell(units: u)
            pre.update(from: bs, count: gu)
            for j in 0..<folded { pre[j] += bt[j] }
            for r in 1..<max(rows, 1) { (pre + r * aw).update(from: pre, count: gu) }
        }
        if l == 0, let hot = view.hotInputs, let swT = network.oneHotSWT {
            if foldBias { for r in 0..<rows { (pre + r * aw).update(repeating: 0, count: gu) } }
            // One-hot input: SW · x is column x of SW, a contiguous row of SWᵀ (I, G·U).
            RecurrenceProduct<Scalar>.transpose(sw, rows: gu, cols: i, into: swT.baseAddress!)
            let idx = hot + p * b
            for r in 0..<rows where idx[r] >= 0 {
                let col = UnsafePointer(swT.baseAddress! + Int(idx[r]) * gu)
                let row = pre + r * aw
                for j in 0..<gu { row[j] += col[j] }
            }
        } else {
            let x: UnsafePointer<Scalar> = l == 0
                ? view.denseInputs! + p * b * i
                : UnsafePointer(network.slot(network.h[l - 1], l - 1, p + 1))
            Scalar.gemm(transA: false, transB: true, m: rows, n: gu, k: i,
                        alpha: 1, a: x, lda: i, b: sw, ldb: i, beta: foldBias ? 0 : 1, c: pre, ldc: aw)
        }
        product.refreshForward(tw, gateRows: gu, units: u)  // from the current weights
        for m in (p + 1)...n {
            Kind.forwardStep(network, layer: l, step: m, biasSum: foldBias ? UnsafePointer(biasSum) : nil,
                             vectorised: vectorisedCell)
        }
    }

    /// Backward pass of gated layer `l` over the window `lo ... n`: on entry the first U columns
    /// of its delta rows hold `E^l` (rows lo ... n); on exit the rows hold the gate deltas, and
    /// `ΔSW`, `ΔTW`, `Δb_s`, `Δb_t` have been accumulated.
    static func backward<Kind: GatedLayerDefinition, Scalar: RNNScalar>(_: Kind.Type, _ bptt: TruncatedBPTT<Scalar>,
                                                                        _ view: BatchView<Scalar>, layer l: Int,
                                                                        windowStart lo: Int, to n: Int, crossing: Scalar) {
        let network = bptt.network
        let layer = network.spec.layers[l]
        let e = network.layout.entries[l]
        let b = network.lanes, u = layer.units, i = layer.inputs
        let gu = Kind.traits.gates * u
        let dw = bptt.deltaWidth[l]
        guard let twOffset = e.tw, let btOffset = e.bt else { return }
        let tw = UnsafePointer(network.params.baseAddress! + twOffset)
        let product = network.recurrence[l]
        product.refreshBackward(tw)  // TW panels, once per update
        let vectorisedCell: Bool
        if case .packed = product { vectorisedCell = true } else { vectorisedCell = false }
        let dhNext = network.gatedScratch.baseAddress!  // TWᵀ delta_{m+1} (+ the direct path), (B, U)
        let dcNext = dhNext + b * u                     // lstm: dc_{m+1} ⊙ σ(f_{m+1}), (B, U)
        dhNext.update(repeating: 0, count: 2 * b * u)
        // A cell that folds the bias sums the bias gradient as it writes the deltas: steps n down
        // to lo, lanes in order, from zero in float32 and then added — the column sums below in
        // another order.
        let foldBias = Kind.foldsBiasInCell && vectorisedCell
        let biasGradient = network.cellBiasWork.baseAddress! + network.cellBiasWork.count / 2  // (G·U)
        if foldBias { biasGradient.update(repeating: 0, count: gu) }
        let accumulates = Kind.recurrentErrorAccumulates
        for m in stride(from: n, through: lo, by: -1) {
            let dm = bptt.deltaSlot(l, m)  // (B, 4U)
            if m < n && crossing != 1 {  // both carries cross from step m + 1 (h through TW and the cell's path; c)
                for j in 0..<(2 * b * u) { dhNext[j] *= crossing }
            }
            Kind.backwardStep(network, layer: l, step: m, delta: dm, deltaStride: dw, dhNext: dhNext, dcNext: dcNext,
                              biasGradient: foldBias ? biasGradient : nil, vectorised: vectorisedCell)
            checkFinite(UnsafePointer(dm), count: b * dw, "gate delta, layer \(l), step \(m)")
            guard m > lo else { break }  // nothing flows below the window start
            // dhNext (+)= Delta_h,m · TW: (B, G·U) × (G·U, U)
            switch product {
            case .packed(let pk):
                if !accumulates { dhNext.update(repeating: 0, count: b * u) }
                pk.stateProduct(UnsafePointer(dm), lda: dw, into: dhNext, rows: b)
            case .smallKernel:
                if !accumulates { dhNext.update(repeating: 0, count: b * u) }
                rnn_sgemm_nn_acc(b, u, gu, f32(UnsafePointer(dm)), dw, f32(tw), u, f32(dhNext), u)
            case .blas:
                Scalar.gemm(transA: false, transB: false, m: b, n: u, k: gu, alpha: 1,
                            a: UnsafePointer(dm), lda: dw, b: tw, ldb: u,
                            beta: accumulates ? 1 : 0, c: dhNext, ldc: u)
            }
        }
        // Weight gradients of the window, rows lo ... n.
        let rows = (n - lo + 1) * b
        let delta = UnsafePointer(bptt.deltaSlot(l, lo))
        let grad = bptt.grads.baseAddress!
        let blocks = Kind.traits.inputDeltaBlocks.blocks(units: u, gates: Kind.traits.gates)
        @inline(__always) func eachBlock(_ body: ((column: Int, row: Int, count: Int)) -> Void) {
            body(blocks.first)
            if let second = blocks.second { body(second) }
        }
        // Delta_x = Delta_h when Delta_x is the contiguous G·U columns (lstm).
        let sharedDelta = Kind.traits.inputDeltaBlocks == .contiguous
        let hShifted = UnsafePointer(network.slot(network.h[l], l, lo - 1))
        var recurrentDone = false
        if l == 0, let hot = view.hotInputs {
            let idx = hot + (lo - 1) * b
            for r in 0..<rows where idx[r] >= 0 {
                let col = Int(idx[r])
                let dr = delta + r * dw
                eachBlock { block in
                    for j in 0..<block.count { grad[e.sw + (block.row + j) * i + col] += dr[block.column + j] }
                }
            }
        } else {
            let x: UnsafePointer<Scalar> = l == 0
                ? view.denseInputs! + (lo - 1) * b * i
                : UnsafePointer(network.slot(network.h[l - 1], l - 1, lo))
            if sharedDelta, Scalar.self == Float.self,
               sgemmUsesOwnKernel(transA: true, transB: false, m: gu, n: u, k: rows),
               sgemmUsesOwnKernel(transA: true, transB: false, m: gu, n: i, k: rows) {
                // Delta_x = Delta_h: ΔTW += Deltaᵀ · H_shifted and ΔSW += Deltaᵀ · X in one pass
                // of the own kernel, which packs Delta once for both (bit for bit the two calls).
                rnn_sgemm_own_pair(1, 0, gu, rows, 1, f32(delta), dw,
                                   u, f32(hShifted), u, f32(grad + twOffset), u,
                                   i, f32(x), i, f32(grad + e.sw), i, 1)
                recurrentDone = true
            } else {
                eachBlock { block in
                    Scalar.gemm(transA: true, transB: false, m: block.count, n: i, k: rows,
                                alpha: 1, a: delta + block.column, lda: dw, b: x, ldb: i,
                                beta: 1, c: grad + e.sw + block.row * i, ldc: i)
                }
            }
        }
        // Delta_h: the first G·U columns (lstm: i f g o; gru: r z n_h).
        if !recurrentDone {
            Scalar.gemm(transA: true, transB: false, m: gu, n: u, k: rows,
                        alpha: 1, a: delta, lda: dw, b: hShifted, ldb: u,
                        beta: 1, c: grad + twOffset, ldc: u)
        }
        let dbs = grad + e.b, dbt = grad + btOffset
        if foldBias {
            for j in 0..<gu { dbt[j] += biasGradient[j] }
        } else {
            TruncatedBPTT<Scalar>.addColumnSums(delta, rows: rows, cols: gu, stride: dw, into: dbt)
        }
        if sharedDelta {  // Delta_x = Delta_h: the same column sums (both started from zero in `backward`)
            for j in 0..<gu { dbs[j] += dbt[j] }
        } else {
            eachBlock { block in
                TruncatedBPTT<Scalar>.addColumnSums(delta + block.column, rows: rows, cols: block.count, stride: dw,
                                                    into: dbs + block.row)
            }
        }
    }
}
