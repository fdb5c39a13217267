import RNNKernels

/// LSTM and GRU layers (PyTorch `nn.LSTM` / `nn.GRU`, one layer each), in the engine's scheme:
/// the input projection of a chunk is one GEMM into the G·U gate pre-activations, the recurrence
/// one (B, U) × (U, G·U) product per step, the gate nonlinearities one fused pass per row (float32
/// on AVX-512: the whole cell, forward and backward, one vectorised C pass per step —
/// `rnn_lstm_forward_f32`, `rnn_gru_backward_f32`, ... — with the loops below as the float64 path),
/// and the weight gradients of a window single GEMMs over its (steps · B) rows.
///
/// Forward (gate blocks stacked in `SW`, `TW`, `b_s`, `b_t` in PyTorch's order):
/// ```
/// LSTM: i,f,g,o = split(SW·x_m + b_s + TW·h_{m-1} + b_t)
///       c_m = σ(f)⊙c_{m-1} + σ(i)⊙tanh(g);   h_m = σ(o)⊙tanh(c_m)
/// GRU:  r = σ(SW_r·x_m + b_sr + TW_r·h_{m-1} + b_tr);   z = σ(SW_z·x_m + b_sz + TW_z·h_{m-1} + b_tz)
///       n = tanh(SW_n·x_m + b_sn + r ⊙ (TW_n·h_{m-1} + b_tn));   h_m = (1 − z)⊙n + z⊙h_{m-1}
/// ```
/// Backward, step by step from `n` down to the window start `a`, with `E^l_m` the error arriving
/// from the layer above (or injected) and `delta` the gradients w.r.t. the gate pre-activations:
/// ```
/// dh_m = E^l_m + TWᵀ delta_{m+1}                                   (+ z ⊙ dh_{m+1}: gru)
/// LSTM: dc_m = dc_{m+1} ⊙ σ(f_{m+1}) + dh_m ⊙ σ(o) ⊙ (1 − tanh²(c_m))
///       delta_i = dc ⊙ tanh(g) ⊙ σ'(i)   delta_f = dc ⊙ c_{m-1} ⊙ σ'(f)
///       delta_g = dc ⊙ σ(i) ⊙ (1 − tanh²(g))   delta_o = dh ⊙ tanh(c_m) ⊙ σ'(o)
/// GRU:  delta_{n,x} = dh ⊙ (1 − z) ⊙ (1 − n²)     (SW_n, b_sn side)
///       delta_{n,h} = delta_{n,x} ⊙ r              (TW_n, b_tn side)
///       delta_r = delta_{n,x} ⊙ (TW_n·h_{m-1} + b_tn) ⊙ σ'(r)   delta_z = dh ⊙ (h_{m-1} − n) ⊙ σ'(z)
/// ΔSW += Delta_xᵀ · H^{l-1}   ΔTW += Delta_hᵀ · H^l_{shifted by one}   Δb_s += Σ Delta_x   Δb_t += Σ Delta_h
/// ```
/// (`Delta_x = Delta_h = (delta_i, delta_f, delta_g, delta_o)` for LSTM; for GRU
/// `Delta_x = (delta_r, delta_z, delta_{n,x})`, `Delta_h = (delta_r, delta_z, delta_{n,h})`.)
/// Truncation: the recursion stops at `a`; `h_{a-1}` and `c_{a-1}` enter only as stored
/// constants (in `ΔTW`, `delta_f`, `delta_z`), so no gradient flows through `h` or `c` below `a`.
///
/// The cells themselves (gates, cell state, `h`, and their backward step) are `LSTMCell` and
/// `GRUCell` (`Layers/GatedCells.swift`), which an online algorithm reuses step by step.
///
/// Buffers: `aux[l]` per slot holds the gate activations (and the cell), `d[l]` per window row the
/// gate deltas, (B, 4U): lstm `[i f g o]`, gru `[r z n_h n_x]` (so `Delta_h` is the contiguous
/// first 3U columns, the one the per-step recurrence product reads).
extension TruncatedBPTT {
    /// Backward pass of gated layer `l` over the window `lo ... n`: on entry the first U columns
    /// of its delta rows hold `E^l` (rows lo ... n); on exit the rows hold the gate deltas, and
    /// `ΔSW`, `ΔTW`, `Δb_s`, `Δb_t` have been accumulated.
    func backwardGated(_ view: BatchView<Scalar>, layer l: Int, windowStart lo: Int, to n: Int) {
        let layer = network.spec.layers[l]
        let e = network.layout.entries[l]
        let b = network.lanes, u = layer.units, i = layer.inputs
        let gu = layer.kind.gates * u
        let aw = network.auxWidth[l], dw = deltaWidth[l]
        let isLSTM = layer.kind == .lstm
        guard let twOffset = e.tw, let btOffset = e.bt else { return }
        let tw = UnsafePointer(network.params.baseAddress! + twOffset)
        let product = network.recurrence[l]
        product.refreshBackward(tw)  // TW panels, once per update
        let vectorisedCell: Bool
        if case .packed = product { vectorisedCell = true } else { vectorisedCell = false }
        let dhNext = network.gatedScratch.baseAddress!          // TWᵀ delta_{m+1} (+ z ⊙ dh_{m+1}), (B, U)
        let dcNext = dhNext + b * u                      // dc_{m+1} ⊙ σ(f_{m+1}), (B, U)
        dhNext.update(repeating: 0, count: 2 * b * u)
        // The vectorised LSTM cell sums the bias gradient as it writes the deltas (folded bias):
        // steps n down to lo, lanes in order, from zero in float32 and then added — the column sums
        // below in another order.
        let foldBias = isLSTM && vectorisedCell
        let biasGradient = network.lstmBiasWork.baseAddress! + network.lstmBiasWork.count / 2  // (4U)
        if foldBias { biasGradient.update(repeating: 0, count: gu) }
        for m in stride(from: n, through: lo, by: -1) {
            let dm = deltaSlot(l, m)                               // (B, 4U)
            let g = UnsafePointer(network.auxSlot(l, m))                   // (B, aw)
            if isLSTM {  // float32 on AVX-512 (packed panels): the cell's backward in one vectorised pass
                LSTMCell.backward(gates: g, previous: UnsafePointer(network.auxSlot(l, m - 1)), delta: dm, deltaStride: dw,
                                  dhNext: dhNext, dcNext: dcNext, lanes: b, units: u, stride: aw,
                                  biasGradient: foldBias ? biasGradient : nil, vectorised: vectorisedCell)
            } else {
                GRUCell.backward(gates: g, hPrev: UnsafePointer(network.slot(network.h[l], l, m - 1)), delta: dm, deltaStride: dw,
                                 dhNext: dhNext, lanes: b, units: u, stride: aw, vectorised: vectorisedCell)
            }
            checkFinite(UnsafePointer(dm), count: b * dw, "gate delta, layer \(l), step \(m)")
            guard m > lo else { break }  // nothing flows below the window start
            // dhNext (+)= Delta_h,m · TW: (B, G·U) × (G·U, U)
            switch product {
            case .packed(let pk):
                if isLSTM { dhNext.update(repeating: 0, count: b * u) }
                pk.stateProduct(UnsafePointer(dm), lda: dw, into: dhNext, rows: b)
            case .smallKernel:
                if isLSTM { dhNext.update(repeating: 0, count: b * u) }
                rnn_sgemm_nn_acc(b, u, gu, f32(UnsafePointer(dm)), dw, f32(tw), u, f32(dhNext), u)
            case .blas:
                Scalar.gemm(transA: false, transB: false, m: b, n: u, k: gu, alpha: 1,
                            a: UnsafePointer(dm), lda: dw, b: tw, ldb: u,
                            beta: isLSTM ? 0 : 1, c: dhNext, ldc: u)
            }
        }
        // Weight gradients of the window, rows lo ... n.
        let rows = (n - lo + 1) * b
        let delta = UnsafePointer(deltaSlot(l, lo))
        let grad = grads.baseAddress!
        // Delta_x: lstm all 4U columns; gru (r z) = columns 0 ..< 2U and n_x = column block 3U.
        let xBlocks: [(column: Int, row: Int, count: Int)] = isLSTM
            ? [(0, 0, gu)] : [(0, 0, 2 * u), (3 * u, 2 * u, u)]
        let hShifted = UnsafePointer(network.slot(network.h[l], l, lo - 1))
        var recurrentDone = false
        if l == 0, let hot = view.hotInputs {
            let idx = hot + (lo - 1) * b
            for r in 0..<rows where idx[r] >= 0 {
                let col = Int(idx[r])
                let dr = delta + r * dw
                for block in xBlocks {
                    for j in 0..<block.count { grad[e.sw + (block.row + j) * i + col] += dr[block.column + j] }
                }
            }
        } else {
            let x: UnsafePointer<Scalar> = l == 0
                ? view.denseInputs! + (lo - 1) * b * i
                : UnsafePointer(network.slot(network.h[l - 1], l - 1, lo))
            if isLSTM, Scalar.self == Float.self,
               sgemmUsesOwnKernel(transA: true, transB: false, m: gu, n: u, k: rows),
               sgemmUsesOwnKernel(transA: true, transB: false, m: gu, n: i, k: rows) {
                // LSTM, Delta_x = Delta_h: ΔTW += Deltaᵀ · H_shifted and ΔSW += Deltaᵀ · X in one pass
                // of the own kernel, which packs Delta once for both (bit for bit the two calls).
                rnn_sgemm_own_pair(1, 0, gu, rows, 1, f32(delta), dw,
                                   u, f32(hShifted), u, f32(grad + twOffset), u,
                                   i, f32(x), i, f32(grad + e.sw), i, 1)
                recurrentDone = true
            } else {
                for block in xBlocks {
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
            Self.addColumnSums(delta, rows: rows, cols: gu, stride: dw, into: dbt)
        }
        if isLSTM {  // Delta_x = Delta_h: the same column sums (both started from zero in `backward`)
            for j in 0..<gu { dbs[j] += dbt[j] }
        } else {
            for block in xBlocks {
                Self.addColumnSums(delta + block.column, rows: rows, cols: block.count, stride: dw, into: dbs + block.row)
            }
        }
    }
}
