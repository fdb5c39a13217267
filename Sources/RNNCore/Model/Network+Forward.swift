import Foundation
import RNNKernels

extension Network {
    /// Runs steps `(p, n]` forward, layer by layer, with the current weights:
    /// ```
    /// Z^l = H^{l-1} · SW^lᵀ + b^l          one GEMM over the (n - p)·B rows of the chunk
    /// z^l_m += TW^l · h^l_{m-1}            rnn layers, step by step
    /// h^l_m = sigma^l(z^l_m)
    /// ```
    /// LSTM and GRU layers run `forwardGated` (same scheme, G·U gate pre-activations).
    /// For cross-entropy the top layer's row losses `log Σ exp(z) - z_t` are taken from the logits
    /// before the softmax overwrites them.
    func forward(_ view: BatchView<Scalar>, from p: Int, to n: Int) {
        let b = lanes
        let rows = (n - p) * b
        let top = spec.layers.count - 1
        chunkStart = p + 1
        let keepLogits = spec.loss.usesClassTargets  // softmax + cross-entropy: keep the row losses
        for (l, layer) in spec.layers.enumerated() {
            if layer.isGated {
                forwardGated(view, layer: l, from: p, to: n)
                continue
            }
            let e = layout.entries[l]
            let u = layer.units, i = layer.inputs
            let sw = UnsafePointer(params.baseAddress! + e.sw)
            let bias = params.baseAddress! + e.b
            let z = slot(h[l], l, p + 1)  // (rows, U)
            for r in 0..<rows { (z + r * u).update(from: bias, count: u) }
            if l == 0, let hot = view.hotInputs {
                // One-hot input: SW · x is column x of SW.
                let idx = hot + p * b
                for r in 0..<rows where idx[r] >= 0 {
                    let col = Int(idx[r])
                    let zr = z + r * u
                    for j in 0..<u { zr[j] += sw[j * i + col] }
                }
            } else {
                let x: UnsafePointer<Scalar> = l == 0
                    ? view.denseInputs! + p * b * i
                    : UnsafePointer(slot(h[l - 1], l - 1, p + 1))
                Scalar.gemm(transA: false, transB: true, m: rows, n: u, k: i,
                            alpha: 1, a: x, lda: i, b: sw, ldb: i, beta: 1, c: z, ldc: u)
            }
            if let twOffset = e.tw {
                let tw = UnsafePointer(params.baseAddress! + twOffset)
                let product = recurrence[l]
                product.refreshForward(tw, gateRows: u, units: u)  // from the current weights
                let fusedTanh = layer.activation == .tanh && !(l == top && keepLogits)
                for m in (p + 1)...n {
                    let zm = slot(h[l], l, m)
                    let hPrev = UnsafePointer(slot(h[l], l, m - 1))
                    switch product {
                    case .packed(let pk):
                        pk.product(hPrev, pk.forward, into: zm, rows: b, epilogue: fusedTanh ? .tanh : .none)
                        if fusedTanh { continue }
                    case .smallKernel(let t):
                        recurrentProduct(hPrev, UnsafePointer(t.baseAddress!), into: zm, rows: b, units: u)
                    case .blas:
                        Scalar.gemm(transA: false, transB: true, m: b, n: u, k: u,
                                    alpha: 1, a: hPrev, lda: u, b: tw, ldb: u,
                                    beta: 1, c: zm, ldc: u)
                    }
                    if l == top && keepLogits {
                        softmaxKeepingRowLoss(zm, rows: b, from: m, view)
                    } else {
                        layer.activation.forward(zm, rows: b, width: u)
                    }
                }
            } else {
                if l == top && keepLogits {
                    softmaxKeepingRowLoss(z, rows: rows, from: p + 1, view)
                } else {
                    layer.activation.forward(z, rows: rows, width: u)
                }
            }
        }
    }

    /// `c (B×U) += a (B×U) · w (U×U)`, `w` row-major: the recurrence product of one step through
    /// the C kernel (`RecurrenceProduct.smallKernel`).
    @inline(__always)
    func recurrentProduct(_ a: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>, into c: UnsafeMutablePointer<Scalar>,
                          rows: Int, units u: Int) {
        rnn_sgemm_nn_acc(rows, u, u, UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), u,
                         UnsafeRawPointer(w).assumingMemoryBound(to: Float.self), u,
                         UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), u)
    }

    /// Softmax of `rows` top-layer rows in place, starting at step `n`, keeping each row's
    /// cross-entropy `log Σ_j exp(z_j) - z_t` (t: the row's class target; ignored where masked).
    @inline(__always)
    func softmaxKeepingRowLoss(_ z: UnsafeMutablePointer<Scalar>, rows: Int, from n: Int, _ view: BatchView<Scalar>) {
        let o = spec.outputs
        let lz = rowLoss.baseAddress! + (n - chunkStart) * lanes
        let classes = view.classTargets!
        let base = view.row(n, 0)
        for r in 0..<rows {
            let row = z + r * o
            let target = Int(classes[base + r])
            let zt = Double(row[target])
            var maxValue = row[0]
            for j in 1..<o where row[j] > maxValue { maxValue = row[j] }
            let sum = Scalar.expInPlace(row, count: o, shift: maxValue)
            lz[r] = Double(maxValue) + _log(Double(sum)) - zt
            let inv = 1 / sum
            for j in 0..<o { row[j] *= inv }
        }
    }

    /// The loss of steps `(p, n]` summed over their target elements, and the element count. With
    /// `inject`, also writes the error each element injects, `dC/dy` (mse) or `dC/dz`
    /// (cross-entropy, binary cross-entropy), already divided by the count (mean reduction).
    func lossAndInjection(_ view: BatchView<Scalar>, from p: Int, to n: Int, inject writeInjection: Bool) -> (Double, Int) {
        let b = lanes, o = spec.outputs
        let top = spec.layers.count - 1
        var targets = 0
        for m in (p + 1)...n {
            for lane in 0..<b where view.mask[view.row(m, lane)] != 0 { targets += 1 }
        }
        let elements = spec.loss.usesClassTargets ? targets : targets * o
        guard elements > 0 else { return (0, 0) }
        let scale = Scalar(1) / Scalar(elements)
        let y = slot(h[top], top, p + 1)
        let g = outputSlot(inject, p + 1)
        let lz = rowLoss.baseAddress! + (p + 1 - chunkStart) * lanes
        var sum = 0.0
        for m in (p + 1)...n {
            for lane in 0..<b {
                let r = view.row(m, lane)
                let local = ((m - p - 1) * b + lane) * o
                let yr = y + local, gr = g + local
                guard view.mask[r] != 0 else {
                    if writeInjection { gr.update(repeating: 0, count: o) }
                    continue
                }
                switch spec.loss {
                case .mse:
                    let t = view.valueTargets! + r * o
                    for j in 0..<o {
                        let diff = yr[j] - t[j]
                        sum += Double(diff) * Double(diff)
                        if writeInjection { gr[j] = 2 * diff * scale }
                    }
                case .binaryCrossEntropy:
                    let t = view.valueTargets! + r * o
                    for j in 0..<o {
                        let yv = Double(yr[j]), tv = Double(t[j])
                        let logY = max(_log(yv), -100), log1mY = max(_log(1 - yv), -100)
                        sum -= tv * logY + (1 - tv) * log1mY
                        if writeInjection { gr[j] = (yr[j] - t[j]) * scale }
                    }
                case .crossEntropy:
                    let c = Int(view.classTargets![r])
                    sum += lz[(m - p - 1) * b + lane]
                    if writeInjection {
                        for j in 0..<o { gr[j] = yr[j] * scale }
                        gr[c] -= scale
                    }
                }
            }
        }
        return (sum, elements)
    }
}

@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _exp(_ x: Double) -> Double { Foundation.exp(x) }
