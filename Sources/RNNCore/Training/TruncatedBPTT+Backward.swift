import RNNKernels

extension TruncatedBPTT {
    /// Backward pass of the update at step `n`: errors injected at `(p, n]`, propagated back to
    /// `a`, gradients accumulated into `grads` (zeroed first).
    ///
    /// Layer by layer from the top, over the rows where `delta` can be non-zero (`lo ... n`):
    /// ```
    /// E^l      = Delta^{l+1} · SW^{l+1}                       one GEMM   (top: injected error)
    /// delta^l_m = sigma'(z^l_m) ⊙ (E^l_m + TW^lᵀ delta^l_{m+1})  step by step, m = n ... a (rnn)
    /// ΔSW^l   += Delta^lᵀ · H^{l-1}   ΔTW^l += Delta^lᵀ · H^l_{shifted by one}   Δb^l += Σ rows
    /// ```
    /// A dense layer has no recurrence, so its rows below `lo` stay zero: with a dense output
    /// layer, `lo` starts at `p + 1` and only the first recurrent layer below widens it to `a`.
    /// Gated layers take `E^l` the same way (into the first U columns of their (B, 4U) delta rows;
    /// from a gated layer above, `Delta^{l+1}` is its input-side gate delta, (rows, G·U)) and then
    /// run `backwardGated`.
    func backward(_ view: BatchView<Scalar>, windowStart a: Int, from p: Int, to n: Int) {
        let b = network.lanes
        let top = network.spec.layers.count - 1
        grads.update(repeating: 0)
        deltaOrigin = a
        internalCheck(a >= 1 && a <= p + 1 && p < n, "window: a = \(a), p = \(p), n = \(n)")
        let foldsActivation = network.spec.loss.injectsPreActivation  // injection is dC/dz: added after sigma'
        var loAbove = p + 1
        for l in stride(from: top, through: 0, by: -1) {
            let layer = network.spec.layers[l]
            let e = network.layout.entries[l]
            let u = layer.units, i = layer.inputs
            let lo = layer.isRecurrent ? a : loAbove
            let delta = deltaSlot(l, lo)
            let rows = (n - lo + 1) * b
            let dw = deltaWidth[l]  // row stride of delta^l: U, or 4U for gated layers
            // E^l for rows lo ... n (gated layers: columns 0 ..< U of their delta rows).
            if l == top {
                let injected = UnsafePointer(network.outputSlot(network.inject, p + 1))
                let zeroRows = (p + 1 - lo) * b
                delta.update(repeating: 0, count: zeroRows * dw)
                if layer.isGated {  // a gated top layer (mse): the injection is dC/dh
                    for r in 0..<((n - p) * b) {
                        (delta + (zeroRows + r) * dw).update(from: injected + r * u, count: u)
                    }
                } else if foldsActivation {
                    (delta + zeroRows * u).update(repeating: 0, count: (n - p) * b * u)
                } else {
                    (delta + zeroRows * u).update(from: injected, count: (n - p) * b * u)
                }
            } else {
                let above = network.spec.layers[l + 1]
                let zeroRows = (loAbove - lo) * b
                delta.update(repeating: 0, count: zeroRows * dw)
                let aboveRows = (n - loAbove + 1) * b
                let dAbove = UnsafePointer(deltaSlot(l + 1, loAbove))
                let swAbove = UnsafePointer(network.params.baseAddress! + network.layout.entries[l + 1].sw)
                if above.kind == .gru {
                    // Delta^{l+1} of a gru is (r z | n_x): columns 0 ..< 2U' and 3U' ..< 4U'.
                    let ua = above.units
                    Scalar.gemm(transA: false, transB: false, m: aboveRows, n: u, k: 2 * ua,
                                alpha: 1, a: dAbove, lda: deltaWidth[l + 1], b: swAbove, ldb: u,
                                beta: 0, c: delta + zeroRows * dw, ldc: dw)
                    Scalar.gemm(transA: false, transB: false, m: aboveRows, n: u, k: ua,
                                alpha: 1, a: dAbove + 3 * ua, lda: deltaWidth[l + 1], b: swAbove + 2 * ua * u, ldb: u,
                                beta: 1, c: delta + zeroRows * dw, ldc: dw)
                } else {
                    Scalar.gemm(transA: false, transB: false, m: aboveRows, n: u, k: above.kind.gates * above.units,
                                alpha: 1, a: dAbove, lda: deltaWidth[l + 1], b: swAbove, ldb: u,
                                beta: 0, c: delta + zeroRows * dw, ldc: dw)
                }
            }
            if layer.isGated {
                backwardGated(view, layer: l, windowStart: lo, to: n)
                loAbove = lo
                continue
            }
            // delta^l = sigma' ⊙ (E^l + TW^lᵀ delta^l_{m+1}).
            if let twOffset = e.tw {
                let tw = UnsafePointer(network.params.baseAddress! + twOffset)
                let product = network.recurrence[l]
                product.refreshBackward(tw)
                for m in stride(from: n, through: lo, by: -1) {
                    let dm = deltaSlot(l, m)
                    let hm = UnsafePointer(network.slot(network.h[l], l, m))
                    var activationApplied = false
                    if m < n {
                        // TW^lᵀ delta_{m+1} of the recursion, for all lanes at once: row-major
                        // (delta (B×U) · TW (U×U))[r, j] = Σ_i delta[r, i] TW[i, j] = (TWᵀ delta_r)_j,
                        // so the transposed product reads TW itself (forward reads TWᵀ).
                        let next = UnsafePointer(deltaSlot(l, m + 1))
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
                    if l == top && foldsActivation && m > p {
                        let injected = network.outputSlot(network.inject, m)
                        for j in 0..<(b * u) { dm[j] += injected[j] }
                    }
                    checkFinite(UnsafePointer(dm), count: b * u, "delta, layer \(l), step \(m)")
                }
            } else {
                layer.activation.backward(h: UnsafePointer(network.slot(network.h[l], l, lo)), g: delta, rows: rows, width: u)
                if l == top && foldsActivation {
                    let injected = network.outputSlot(network.inject, p + 1)
                    let dm = deltaSlot(l, p + 1)
                    for j in 0..<((n - p) * b * u) { dm[j] += injected[j] }
                }
            }
            // Weight gradients of the whole window.
            let g = grads.baseAddress!
            if l == 0, let hot = view.hotInputs {
                let idx = hot + (lo - 1) * b
                for r in 0..<rows where idx[r] >= 0 {
                    let col = Int(idx[r])
                    let dr = delta + r * u
                    for j in 0..<u { g[e.sw + j * i + col] += dr[j] }
                }
            } else {
                let x: UnsafePointer<Scalar> = l == 0
                    ? view.denseInputs! + (lo - 1) * b * i
                    : UnsafePointer(network.slot(network.h[l - 1], l - 1, lo))
                Scalar.gemm(transA: true, transB: false, m: u, n: i, k: rows,
                            alpha: 1, a: UnsafePointer(delta), lda: u, b: x, ldb: i,
                            beta: 1, c: g + e.sw, ldc: i)
            }
            if let twOffset = e.tw {
                Scalar.gemm(transA: true, transB: false, m: u, n: u, k: rows,
                            alpha: 1, a: UnsafePointer(delta), lda: u,
                            b: UnsafePointer(network.slot(network.h[l], l, lo - 1)), ldb: u,
                            beta: 1, c: g + twOffset, ldc: u)
            }
            Self.addColumnSums(UnsafePointer(delta), rows: rows, cols: u, stride: u, into: g + e.b)
            loAbove = lo
        }
    }

    /// `sums[j] += Σ_r x[r · stride + j]` for `j < cols`: the bias gradients of a window's rows.
    /// Float32 through `rnn_column_sums_f32` (AVX-512 where the CPU has it), which sums each column
    /// from zero in row order and then adds it: with `sums` at zero, as in `backward`, bit for bit
    /// what this loop gives.
    @inline(__always)
    static func addColumnSums(_ x: UnsafePointer<Scalar>, rows: Int, cols: Int, stride: Int,
                              into sums: UnsafeMutablePointer<Scalar>) {
        if Scalar.self == Float.self {
            rnn_column_sums_f32(rows, cols, f32(x), stride, f32(sums))
            return
        }
        for r in 0..<rows {
            let xr = x + r * stride
            for j in 0..<cols { sums[j] += xr[j] }
        }
    }
}
