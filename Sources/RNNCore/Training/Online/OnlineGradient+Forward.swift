/// One step of the engine for every lane at once: the forward with the local derivatives, the
/// loss and the readout's errors (`OnlineGradient`'s doc has the math), and the products with
/// the weights' transposes.
extension OnlineGradient {
    /// One step: the forward, the loss and the readout's errors `q` of the target lanes, then
    /// the influence advance and the gradient `q_mᵀ M_m` (each algorithm's file says in which
    /// order over lanes).
    func runStep(_ view: BatchView<Scalar>, _ w: UnsafePointer<Scalar>, lengths: [Int]) {
        let n = step
        for lane in 0..<lanes { layers.active[lane] = n <= lengths[lane] }
        forward(view, w, n)
        var targets = false
        for lane in 0..<lanes {
            readout.hasTarget[lane] = layers.active[lane] && view.mask[view.row(n, lane)] != 0
            targets = targets || readout.hasTarget[lane]
        }
        if targets { lossAndReadout(view, w, n) }
        switch algorithm {
        case .rtrl: rtrlAdvance(w)
        case .snap1, .rflo: perLayerAdvance(w)
        case .uoro: uoroAdvance(w, n)
        case .kfRTRL: kroneckerAdvance(w, n)
        }
    }

    /// Layer `l`'s input of this step, (B, I).
    @inline(__always)
    func layerInput(_ l: Int) -> UnsafeMutablePointer<Scalar> { l == 0 ? layers.input : layers.h[l - 1] }

    /// Forward of step `n` for every lane with the given weights, and the local derivatives of
    /// the layers up to `L` (see the type's doc). Frozen lanes keep their state.
    func forward(_ view: BatchView<Scalar>, _ w: UnsafePointer<Scalar>, _ n: Int) {
        let b = lanes
        let inputs = spec.inputs
        if let dense = view.denseInputs {
            layers.input.update(from: dense + (n - 1) * b * inputs, count: b * inputs)
        } else if let hot = view.hotInputs {
            layers.input.update(repeating: 0, count: b * inputs)
            for lane in 0..<b {
                let k = Int(hot[view.row(n, lane)])
                if k >= 0 { layers.input[lane * inputs + k] = 1 }
            }
        }
        for (l, sh) in shapes.enumerated() {
            let u = sh.units
            if sh.isRecurrent {
                layers.hPrev[l].update(from: layers.h[l], count: b * u)
                if sh.hasCell { layers.cPrev[l].update(from: layers.c[l], count: b * u) }
                if sh.isLRU { layers.sPrev[l].update(from: layers.s[l], count: b * sh.stateSize) }
            }
            sh.kind.accept(OnlineForwardStep(engine: self, layer: l, weights: w))
            // Frozen lanes keep their state.
            if sh.isRecurrent {
                for lane in 0..<b where !layers.active[lane] {
                    (layers.h[l] + lane * u).update(from: layers.hPrev[l] + lane * u, count: u)
                    if sh.hasCell { (layers.c[l] + lane * u).update(from: layers.cPrev[l] + lane * u, count: u) }
                    if sh.isLRU {
                        let n = sh.stateSize
                        (layers.s[l] + lane * n).update(from: layers.sPrev[l] + lane * n, count: n)
                    }
                }
            }
        }
    }

    /// One step of an rnn or indrnn layer (`recurrent`) or a dense layer for every lane:
    /// `z = b + x W_sᵀ (+ h_{n-1} W_tᵀ`, indrnn `+ h_{n-1} ⊙ w_t)`, `h = σ(z)` (the top of a cross-entropy stack: the softmax
    /// keeping each lane's `log Σ_j exp(z_j)`), and up to the top recurrent layer
    /// `Ds = Dt = σ'(z)`.
    func plainLayerStep(_ l: Int, _ w: UnsafePointer<Scalar>, recurrent: Bool) {
        let b = lanes
        let sh = shapes[l]
        let top = shapes.count - 1
        let u = sh.units, i = sh.inputs
        let x = UnsafePointer(layerInput(l))
        let z = layers.h[l]
        for lane in 0..<b { (z + lane * u).update(from: w + sh.b, count: u) }
        timesWeightsTransposed(l, recurrent: false, m: b, a: x, lda: i, w, beta: 1, c: z, ldc: u)
        if recurrent { addRecurrentProduct(l, m: b, a: UnsafePointer(layers.hPrev[l]), lda: u, w, c: z, ldc: u) }
        if l == top { readout.logits.update(from: z, count: b * u) }
        if l == top && sh.activation == .softmax && spec.loss == .crossEntropy {
            // Softmax keeping each lane's log Σ_j exp(z_j) for its cross-entropy.
            for lane in 0..<b {
                let row = z + lane * u
                var maxValue = row[0]
                for j in 1..<u where row[j] > maxValue { maxValue = row[j] }
                let sum = Scalar.expInPlace(row, count: u, shift: maxValue)
                readout.logSumExp[lane] = Double(maxValue) + _log(Double(sum))
                let inv = 1 / sum
                for j in 0..<u { row[j] *= inv }
            }
        } else {
            sh.activation.forward(z, rows: b, width: u)
        }
        if l <= topRecurrent {
            // σ'(z) from σ(z), one loop per activation (vectorisable); Dt = Ds.
            let d = layers.ds[l], count = b * u
            switch sh.activation {
            case .tanh: for j in 0..<count { d[j] = 1 - z[j] * z[j] }
            case .sigmoid: for j in 0..<count { d[j] = z[j] * (1 - z[j]) }
            case .relu: for j in 0..<count { d[j] = z[j] > 0 ? 1 : 0 }
            case .identity, .softmax: d.update(repeating: 1, count: count)  // softmax below L is rejected
            }
            layers.dt[l].update(from: d, count: count)
        }
    }

    /// Loss of the step's target lanes (`hasTarget`), the readout's exact same-step gradient (dense
    /// layers above `L`) into the accumulator, and the errors `q = ∂C_m/∂h^L_m`, `(B, U_L)` with
    /// zero rows for lanes without a target, in `q`. The dense layers' backward runs over all lanes
    /// at once: `ΔW += Eᵀ X`, `Δb += Σ_lanes E`, `E_below = E W`.
    ///
    /// Errors: mse `dC/dy = 2 (y - t)`; with a dense top, cross-entropy and binary cross-entropy
    /// inject `dC/dz = y - t` (folded); with a recurrent top, binary cross-entropy uses
    /// `dC/dy = (y - t) / (y (1 - y))` (it meets `σ'` inside the influence).
    func lossAndReadout(_ view: BatchView<Scalar>, _ w: UnsafePointer<Scalar>, _ n: Int) {
        let top = shapes.count - 1
        let o = spec.outputs
        let b = lanes
        let foldedTop = top > topRecurrent && spec.loss != .mse
        var cot = readout.errors, below = readout.errorsBelow
        var sum = 0.0
        for lane in 0..<b {
            let g = cot + lane * o  // error on the top layer: dC/dz (folded) or dC/dy
            guard readout.hasTarget[lane] else {
                g.update(repeating: 0, count: o)
                continue
            }
            let row = view.row(n, lane)
            let y = layers.h[top] + lane * o
            switch spec.loss {
            case .mse:
                let t = view.valueTargets! + row * o
                for j in 0..<o {
                    let diff = y[j] - t[j]
                    sum += Double(diff) * Double(diff)
                    g[j] = 2 * diff
                }
                pendingElements += o
            case .binaryCrossEntropy:
                let t = view.valueTargets! + row * o
                for j in 0..<o {
                    let yv = Double(y[j]), tv = Double(t[j])
                    sum -= tv * max(_log(yv), -100) + (1 - tv) * max(_log(1 - yv), -100)
                    g[j] = foldedTop ? y[j] - t[j] : (y[j] - t[j]) / (y[j] * (1 - y[j]))
                }
                pendingElements += o
            case .crossEntropy:
                // A recurrent softmax top is rejected at init, so the top is a dense softmax layer
                // and its forward kept log Σ_j exp(z_j).
                let cls = Int(view.classTargets![row])
                sum += readout.logSumExp[lane] - Double(readout.logits[lane * o + cls])
                for j in 0..<o { g[j] = y[j] }
                g[cls] -= 1
                pendingElements += 1
            }
        }
        pendingLossSum += sum
        // Same-step backprop through the dense layers above L, all lanes at once (the rows of
        // lanes without a target are 0 and stay 0 through every activation's backward).
        if top > topRecurrent {
            for l in stride(from: top, to: topRecurrent, by: -1) {
                let sh = shapes[l]
                let u = sh.units, i = sh.inputs
                if !(l == top && foldedTop) {
                    sh.activation.backward(h: UnsafePointer(layers.h[l]), g: cot, rows: b, width: u)
                }
                Scalar.gemm(transA: true, transB: false, m: u, n: i, k: b, alpha: 1, a: UnsafePointer(cot), lda: u,
                            b: UnsafePointer(layerInput(l)), ldb: i, beta: 1, c: backward.accumulator + sh.sw, ldc: i)
                let bias = backward.accumulator + sh.b
                for lane in 0..<b where readout.hasTarget[lane] {
                    let e = cot + lane * u
                    for k in 0..<u { bias[k] += e[k] }
                }
                // E_below = E · W_s (random feedback: E · B_fb, rflo_feedback: random).
                Scalar.gemm(transA: false, transB: false, m: b, n: i, k: u, alpha: 1, a: UnsafePointer(cot), lda: u,
                            b: feedback[l] ?? (w + sh.sw), ldb: i, beta: 0, c: below, ldc: i)
                swap(&cot, &below)
            }
        }
        q = cot
    }


    // MARK: - Products with the weights

    /// `c (m, U) += a (m, U) · TWᵀ` for recurrent layer `l` (rows of `m` lanes): the product with
    /// `W_t` (`timesWeightsTransposed`), or for a diagonal `TW` the element-wise `a ⊙ w_t`.
    @inline(__always)
    func addRecurrentProduct(_ l: Int, m: Int, a: UnsafePointer<Scalar>, lda: Int, _ w: UnsafePointer<Scalar>,
                             c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        let sh = shapes[l]
        guard sh.isDiagonal else {
            timesWeightsTransposed(l, recurrent: true, m: m, a: a, lda: lda, w, beta: 1, c: c, ldc: ldc)
            return
        }
        let wt = w + sh.tw, u = sh.units
        for r in 0..<m {
            let ar = a + r * lda, cr = c + r * ldc
            for k in 0..<u { cr[k] += ar[k] * wt[k] }
        }
    }

    /// Refreshes the transposed weights from `w` (at the start of each `advance`).
    func transposeWeights(_ w: UnsafePointer<Scalar>) {
        for (l, sh) in shapes.enumerated() {
            if transposed.sw[l] >= 0 {
                RecurrenceProduct<Scalar>.transpose(w + sh.sw, rows: sh.rows, cols: sh.inputs,
                                                    into: transposed.values + transposed.sw[l])
            }
            if transposed.tw[l] >= 0 {
                RecurrenceProduct<Scalar>.transpose(w + sh.tw, rows: sh.rows, cols: sh.units,
                                                    into: transposed.values + transposed.tw[l])
            }
        }
    }

    /// `c (m, R) = beta · c + a (m, k) · Wᵀ` for layer `l`'s `W_s` (`k = I`) or, with
    /// `recurrent`, its `W_t` (`k = U`): an NN product on the transposed copy where the layer
    /// keeps one, else an NT product on `w`.
    @inline(__always)
    func timesWeightsTransposed(_ l: Int, recurrent: Bool, m: Int, a: UnsafePointer<Scalar>, lda: Int,
                                _ w: UnsafePointer<Scalar>, beta: Scalar, c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        let sh = shapes[l]
        let k = recurrent ? sh.units : sh.inputs, R = sh.rows
        let offset = recurrent ? transposed.tw[l] : transposed.sw[l]
        if offset >= 0 {
            Scalar.gemm(transA: false, transB: false, m: m, n: R, k: k, alpha: 1, a: a, lda: lda,
                        b: UnsafePointer(transposed.values + offset), ldb: R, beta: beta, c: c, ldc: ldc)
        } else {
            Scalar.gemm(transA: false, transB: true, m: m, n: R, k: k, alpha: 1, a: a, lda: lda,
                        b: w + (recurrent ? sh.tw : sh.sw), ldb: k, beta: beta, c: c, ldc: ldc)
        }
    }
}

/// `OnlineGradient.forward`'s visitor: one layer's step through its definition.
struct OnlineForwardStep<Scalar: RNNScalar>: LayerKindVisitor {
    let engine: OnlineGradient<Scalar>
    let layer: Int
    let weights: UnsafePointer<Scalar>

    @inline(__always)
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) {
        Kind.onlineStep(engine, layer: layer, weights)
    }
}
