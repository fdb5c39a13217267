import RNNKernels

/// The forward step of LSTM and GRU layers (PyTorch `nn.LSTM` / `nn.GRU`, one layer each), in the
/// network's scheme: the input projection of a chunk is one GEMM into the G·U gate
/// pre-activations, the recurrence one (B, U) × (U, G·U) product per step, and the cell one fused
/// pass per row (`LSTMCell`, `GRUCell`: on AVX-512 one vectorised C pass per step). Gate blocks
/// are stacked in `SW`, `TW`, `b_s`, `b_t` in PyTorch's order:
/// ```
/// LSTM: i,f,g,o = split(SW·x_m + b_s + TW·h_{m-1} + b_t)
///       c_m = σ(f)⊙c_{m-1} + σ(i)⊙tanh(g);   h_m = σ(o)⊙tanh(c_m)
/// GRU:  r = σ(SW_r·x_m + b_sr + TW_r·h_{m-1} + b_tr);   z = σ(SW_z·x_m + b_sz + TW_z·h_{m-1} + b_tz)
///       n = tanh(SW_n·x_m + b_sn + r ⊙ (TW_n·h_{m-1} + b_tn));   h_m = (1 − z)⊙n + z⊙h_{m-1}
/// ```
/// `aux[l]` per slot holds the gate activations and the cell, which the backward pass
/// (`TruncatedBPTT+Gated`) reads.
extension Network {
    /// Steps `(p, n]` of gated layer `l` forward with the current weights.
    func forwardGated(_ view: BatchView<Scalar>, layer l: Int, from p: Int, to n: Int) {
        let layer = spec.layers[l]
        let e = layout.entries[l]
        let b = lanes, u = layer.units, i = layer.inputs
        let gu = layer.kind.gates * u
        let aw = auxWidth[l]
        let rows = (n - p) * b
        let isLSTM = layer.kind == .lstm
        let w = params.baseAddress!
        guard let twOffset = e.tw, let btOffset = e.bt else { return }
        let sw = UnsafePointer(w + e.sw), tw = UnsafePointer(w + twOffset)
        let bs = UnsafePointer(w + e.b), bt = UnsafePointer(w + btOffset)
        let product = recurrence[l]
        let vectorisedCell: Bool
        if case .packed = product { vectorisedCell = true } else { vectorisedCell = false }
        // Pre-activations of the chunk, (rows, G·U) at row stride aw: b_s + b_t (gru: b_t only on r,
        // z; b_tn goes inside r ⊙ (·)), then + X · SWᵀ as one GEMM. The vectorised LSTM cell adds
        // the bias itself (`LSTMCell`, folded bias): its rows start from X · SWᵀ alone (GEMM with
        // beta 0, no pass filling (rows, 4U) with the bias), and the cell forms
        // (X·SWᵀ + h·TWᵀ) + (b_s + b_t) — in float32 the same sum in another order.
        let foldBias = isLSTM && vectorisedCell
        let biasSum = lstmBiasWork.baseAddress!  // foldBias: b_s + b_t, (4U)
        let pre = auxSlot(l, p + 1)
        if foldBias {
            for j in 0..<gu { biasSum[j] = bs[j] + bt[j] }
        } else {
            let folded = isLSTM ? gu : 2 * u
            pre.update(from: bs, count: gu)
            for j in 0..<folded { pre[j] += bt[j] }
            for r in 1..<max(rows, 1) { (pre + r * aw).update(from: pre, count: gu) }
        }
        if l == 0, let hot = view.hotInputs, let swT = oneHotSWT {
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
                : UnsafePointer(slot(h[l - 1], l - 1, p + 1))
            Scalar.gemm(transA: false, transB: true, m: rows, n: gu, k: i,
                        alpha: 1, a: x, lda: i, b: sw, ldb: i, beta: foldBias ? 0 : 1, c: pre, ldc: aw)
        }
        product.refreshForward(tw, gateRows: gu, units: u)  // from the current weights
        let scratch = gatedScratch.baseAddress!  // gru: TW·h_{m-1}, (B, 3U)
        for m in (p + 1)...n {
            let g = auxSlot(l, m)                                 // (B, aw)
            let gPrev = UnsafePointer(auxSlot(l, m - 1))          // (B, aw)
            let hPrev = UnsafePointer(slot(h[l], l, m - 1))       // (B, U)
            let hOut = slot(h[l], l, m)                           // (B, U)
            if isLSTM {
                // g[:, 0 ..< 4U] += h_{m-1} · TWᵀ
                switch product {
                case .packed(let pk):
                    pk.gateProduct(hPrev, into: g, ldc: aw, rows: b)
                case .smallKernel(let t):
                    rnn_sgemm_nn_acc(b, gu, u, f32(hPrev), u, f32(UnsafePointer(t.baseAddress!)), gu,
                                     f32(g), aw)
                case .blas:
                    Scalar.gemm(transA: false, transB: true, m: b, n: gu, k: u, alpha: 1, a: hPrev, lda: u,
                                b: tw, ldb: u, beta: 1, c: g, ldc: aw)
                }
                // float32 on AVX-512 (packed panels): the whole cell in one vectorised pass
                LSTMCell.forward(g, previous: gPrev, h: hOut, lanes: b, units: u, stride: aw,
                                 bias: foldBias ? UnsafePointer(biasSum) : nil, vectorised: vectorisedCell)
            } else {
                // scratch = h_{m-1} · TWᵀ, (B, 3U)
                switch product {
                case .packed(let pk):  // float32 on AVX-512: then the whole cell in one vectorised pass
                    scratch.update(repeating: 0, count: b * gu)
                    pk.gateProduct(hPrev, into: scratch, ldc: gu, rows: b)
                case .smallKernel(let t):
                    scratch.update(repeating: 0, count: b * gu)
                    rnn_sgemm_nn_acc(b, gu, u, f32(hPrev), u, f32(UnsafePointer(t.baseAddress!)), gu,
                                     f32(scratch), gu)
                case .blas:
                    Scalar.gemm(transA: false, transB: true, m: b, n: gu, k: u, alpha: 1, a: hPrev, lda: u,
                                b: tw, ldb: u, beta: 0, c: scratch, ldc: gu)
                }
                GRUCell.forward(g, recurrent: UnsafePointer(scratch), recurrentStride: gu, bt: bt, hPrev: hPrev, h: hOut,
                                lanes: b, units: u, stride: aw, vectorised: vectorisedCell)
            }
        }
    }
}
