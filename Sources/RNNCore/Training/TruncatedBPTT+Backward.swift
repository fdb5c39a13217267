import RNNKernels

extension TruncatedBPTT {
    /// Backward pass of the update at step `n`: errors injected at `(p, n]`, propagated back to
    /// `a`, gradients accumulated into `grads` (zeroed first).
    ///
    /// Layer by layer from the top, over the rows where `delta` can be non-zero (`lo ... n`):
    /// ```
    /// E^l      = Delta_x^{l+1} · SW^{l+1}                     one GEMM   (top: injected error)
    /// delta^l_m = sigma'(z^l_m) ⊙ (E^l_m + TW^lᵀ delta^l_{m+1})  step by step, m = n ... a (rnn)
    /// ΔSW^l   += Delta^lᵀ · H^{l-1}   ΔTW^l += Delta^lᵀ · H^l_{shifted by one}   Δb^l += Σ rows
    /// ```
    /// `E^l` is formed here (into the first U columns of the layer's delta rows); the rest is the
    /// layer's definition (`LayerDefinition.backward`). A dense layer has no recurrence, so its
    /// rows below `lo` stay zero: with a dense output layer, `lo` starts at `p + 1` and only the
    /// first recurrent layer below widens it to `a`. `Delta_x^{l+1}` is the part of the delta rows
    /// above that multiplies `SW^{l+1}` (`LayerTraits.inputDeltaBlocks`).
    func backward(_ view: BatchView<Scalar>, windowStart a: Int, from p: Int, to n: Int, crossing: Scalar = 1) {
        let network = network
        let b = network.lanes
        let top = network.spec.layers.count - 1
        grads.update(repeating: 0)
        deltaOrigin = a
        internalCheck(a >= 1 && a <= p + 1 && p < n, "window: a = \(a), p = \(p), n = \(n)")
        let foldsActivation = network.spec.loss.injectsPreActivation  // injection is dC/dz: added after sigma'
        var loAbove = p + 1
        for l in stride(from: top, through: 0, by: -1) {
            let layer = network.spec.layers[l]
            let u = layer.units
            let lo = layer.isRecurrent ? a : loAbove
            let delta = deltaSlot(l, lo)
            let dw = deltaWidth[l]  // row stride of delta^l: U, or 4U for gated layers
            // E^l for rows lo ... n (gated layers: columns 0 ..< U of their delta rows).
            if l == top {
                let injected = UnsafePointer(network.outputSlot(network.inject, p + 1))
                let zeroRows = (p + 1 - lo) * b
                delta.update(repeating: 0, count: zeroRows * dw)
                if dw != u {  // a gated (or lru) top layer (mse): the injection is dC/dh, in wider rows
                    for r in 0..<((n - p) * b) {
                        (delta + (zeroRows + r) * dw).update(from: injected + r * u, count: u)
                    }
                } else if foldsActivation {
                    (delta + zeroRows * u).update(repeating: 0, count: (n - p) * b * u)
                } else {
                    (delta + zeroRows * u).update(from: injected, count: (n - p) * b * u)
                }
            } else {
                let zeroRows = (loAbove - lo) * b
                delta.update(repeating: 0, count: zeroRows * dw)
                sendDown(from: l + 1, rows: (n - loAbove + 1) * b, stepFrom: loAbove, into: delta + zeroRows * dw, ldc: dw)
            }
            layer.kind.accept(BackwardWindow(bptt: self, view: view, layer: l, windowStart: lo, from: p, to: n,
                                             crossing: crossing))
            loAbove = lo
        }
    }

    /// Adds the injected error of steps `m ..< m + steps` to the delta rows at `delta` (width U
    /// of the top layer): with a folded loss (cross-entropy on softmax, binary cross-entropy on
    /// sigmoid) the injection is `dC/dz`, added after `sigma'` (SPEC 2).
    @inline(__always)
    func addFoldedInjection(from m: Int, steps: Int, into delta: UnsafeMutablePointer<Scalar>) {
        let injected = network.outputSlot(network.inject, m)
        for j in 0..<(steps * network.lanes * network.spec.outputs) { delta[j] += injected[j] }
    }

    /// `E^{l-1}` for `rows` rows of layer `l`'s delta from step `stepFrom`, into `c` (row stride
    /// `ldc`, overwritten), as the layer's kind sends it (`LayerDefinition.sendDown`).
    func sendDown(from l: Int, rows: Int, stepFrom m: Int, into c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        network.spec.layers[l].kind.accept(SendDown(bptt: self, layer: l, rows: rows, step: m, c: c, ldc: ldc))
    }

    /// `E^{l-1} = Delta_x^l · SW^l` for `rows` rows of layer `l`'s delta from step `stepFrom`,
    /// into `c` (row stride `ldc`, overwritten): one GEMM per block of `Delta_x`.
    func sendDownThroughInputWeights(from l: Int, rows: Int, stepFrom m: Int, into c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        let network = network
        let layer = network.spec.layers[l]
        let traits = layer.kind.traits
        let below = layer.inputs, ua = layer.units
        let dAbove = UnsafePointer(deltaSlot(l, m))
        let sw = UnsafePointer(network.params.baseAddress! + network.layout.entries[l].sw)
        let blocks = traits.inputDeltaBlocks.blocks(units: ua, gates: traits.gates)
        Scalar.gemm(transA: false, transB: false, m: rows, n: below, k: blocks.first.count,
                    alpha: 1, a: dAbove + blocks.first.column, lda: deltaWidth[l], b: sw + blocks.first.row * below,
                    ldb: below, beta: 0, c: c, ldc: ldc)
        if let block = blocks.second {
            Scalar.gemm(transA: false, transB: false, m: rows, n: below, k: block.count,
                        alpha: 1, a: dAbove + block.column, lda: deltaWidth[l], b: sw + block.row * below,
                        ldb: below, beta: 1, c: c, ldc: ldc)
        }
    }

    /// `ΔSW^l += Delta^lᵀ · H^{l-1}`, `ΔTW^l += Delta^lᵀ · H^l_{shifted by one}` (a recurrent layer
    /// with a matrix `W_t`; a kind with another recurrent weight adds its own) and `Δb^l += Σ rows`
    /// over the window rows `lo ... n` of a single-gate layer (delta rows of width U; a one-hot
    /// first layer adds each delta row to the column of its input).
    func addWeightGradients(_ view: BatchView<Scalar>, layer l: Int, windowStart lo: Int, to n: Int) {
        let network = network
        let layer = network.spec.layers[l]
        let e = network.layout.entries[l]
        let b = network.lanes, u = layer.units, i = layer.inputs
        let rows = (n - lo + 1) * b
        let delta = deltaSlot(l, lo)
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
        if let twOffset = e.tw, layer.kind.traits.recurrentWeight == .matrix {
            Scalar.gemm(transA: true, transB: false, m: u, n: u, k: rows,
                        alpha: 1, a: UnsafePointer(delta), lda: u,
                        b: UnsafePointer(network.slot(network.h[l], l, lo - 1)), ldb: u,
                        beta: 1, c: g + twOffset, ldc: u)
        }
        Self.addColumnSums(UnsafePointer(delta), rows: rows, cols: u, stride: u, into: g + e.b)
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

/// `TruncatedBPTT.backward`'s visitor: one layer's window through its definition.
struct BackwardWindow<Scalar: RNNScalar>: LayerKindVisitor {
    let bptt: TruncatedBPTT<Scalar>
    let view: BatchView<Scalar>
    let layer: Int, windowStart: Int, from: Int, to: Int
    let crossing: Scalar

    @inline(__always)
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) {
        Kind.backward(bptt, view, layer: layer, windowStart: windowStart, from: from, to: to, crossing: crossing)
    }
}
