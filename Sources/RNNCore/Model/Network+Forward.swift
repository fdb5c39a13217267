import Foundation
import RNNKernels

extension Network {
    /// Runs steps `(p, n]` forward, layer by layer, with the current weights: each layer's
    /// definition runs its chunk (`LayerDefinition.forward`), e.g. for rnn layers
    /// ```
    /// Z^l = H^{l-1} · SW^lᵀ + b^l          one GEMM over the (n - p)·B rows of the chunk
    /// z^l_m += TW^l · h^l_{m-1}            step by step
    /// h^l_m = sigma^l(z^l_m)
    /// ```
    /// For cross-entropy the top layer's row losses `log Σ exp(z) - z_t` are taken from the logits
    /// before the softmax overwrites them.
    func forward(_ view: BatchView<Scalar>, from p: Int, to n: Int) {
        chunkStart = p + 1
        for (l, layer) in spec.layers.enumerated() {
            layer.kind.accept(ForwardChunk(network: self, view: view, layer: l, from: p, to: n))
        }
    }

    /// `Z^l = H^{l-1} · SW^lᵀ + b^l` for the chunk's rows `(p, n]` of an rnn or dense layer,
    /// into its `h` slots (one GEMM; a one-hot first layer adds the column of `SW` instead).
    /// Returns the slot of step `p + 1`.
    func inputProjection(_ view: BatchView<Scalar>, layer l: Int, from p: Int, to n: Int) -> UnsafeMutablePointer<Scalar> {
        let layer = spec.layers[l]
        let e = layout.entries[l]
        let b = lanes, rows = (n - p) * b
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
        return z
    }

    /// Whether layer `l` is the softmax top of a cross-entropy stack, whose forward keeps each
    /// row's loss (`softmaxKeepingRowLoss`) instead of applying its activation.
    @inline(__always)
    func keepsRowLoss(_ l: Int) -> Bool {
        l == spec.layers.count - 1 && spec.loss.usesClassTargets
    }

    /// `h = sigma^l(z)` in place for `rows` rows from step `m` of an rnn or dense layer (the top of
    /// a cross-entropy stack: the softmax keeping its row losses).
    @inline(__always)
    func activate(_ z: UnsafeMutablePointer<Scalar>, layer l: Int, rows: Int, from m: Int, _ view: BatchView<Scalar>) {
        if keepsRowLoss(l) {
            softmaxKeepingRowLoss(z, rows: rows, from: m, view)
        } else {
            spec.layers[l].activation.forward(z, rows: rows, width: spec.layers[l].units)
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

/// `Network.forward`'s visitor: one layer's chunk through its definition.
struct ForwardChunk<Scalar: RNNScalar>: LayerKindVisitor {
    let network: Network<Scalar>
    let view: BatchView<Scalar>
    let layer: Int, from: Int, to: Int

    @inline(__always)
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) {
        Kind.forward(network, view, layer: layer, from: from, to: to)
    }
}

@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _exp(_ x: Double) -> Double { Foundation.exp(x) }
