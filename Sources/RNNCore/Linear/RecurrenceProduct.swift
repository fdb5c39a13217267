import RNNKernels

/// How a recurrent layer forms its per-step products with `TW` (G·U×U; G = 1 rnn, 4 lstm, 3 gru),
/// chosen once per layer when the trainer is built:
/// ```
/// forward:   z_m (B×G·U) += h_{m-1} (B×U) · TWᵀ
/// backward:  dh (B×U)    += delta_{m+1} (B×G·U) · TW     (row-major: TWᵀ delta, lane by lane)
/// ```
/// - `packed`: float32 on an AVX-512 CPU; `TW` packed into the micro-kernel's panels once per
///   forward chunk and once per update (`RecurrentPanels`), rnn layers with `tanh` / `1 - h²`
///   fused in, gated layers then running the whole cell as one vectorised C pass;
/// - `smallKernel`: float32 with AVX2+FMA and at most `smallKernelUnits` units; the C kernel
///   `rnn_sgemm_nn_acc` (row-major NN), forward on `TWᵀ` (`transposed`, (U, G·U), refreshed per
///   chunk), backward on `TW` itself;
/// - `blas`: everything else (float64, large layers, CPUs without AVX2).
enum RecurrenceProduct<Scalar: RNNScalar> {
    case packed(RecurrentPanels)
    case smallKernel(transposed: UnsafeMutableBufferPointer<Scalar>)
    case blas

    /// Up to this many units the small kernel beats a BLAS call's overhead (measured on this
    /// project's machine).
    static var smallKernelUnits: Int { 128 }

    /// The product for `layer` (`.blas` for layers without recurrence, which never use it).
    static func choose(for layer: LayerSpec) -> RecurrenceProduct {
        guard layer.isRecurrent else { return .blas }
        if let panels = RecurrentPanels.make(for: layer, scalar: Scalar.self) { return .packed(panels) }
        guard Scalar.self == Float.self, layer.units <= smallKernelUnits, rnn_kernels_avx2() != 0 else { return .blas }
        let buffer = UnsafeMutableBufferPointer<Scalar>.allocate(capacity: layer.kind.gates * layer.units * layer.units)
        buffer.initialize(repeating: 0)
        return .smallKernel(transposed: buffer)
    }

    /// Before a forward chunk: what the forward products read, from the current `tw` (G·U×U).
    func refreshForward(_ tw: UnsafePointer<Scalar>, gateRows: Int, units: Int) {
        switch self {
        case .packed(let panels): panels.packForward(tw)
        case .smallKernel(let t): Self.transpose(tw, rows: gateRows, cols: units, into: t.baseAddress!)
        case .blas: break
        }
    }

    /// Before a backward pass: what the backward products read, from the current `tw`.
    func refreshBackward(_ tw: UnsafePointer<Scalar>) {
        if case .packed(let panels) = self { panels.packBackward(tw) }
    }

    func deallocate() {
        if case .smallKernel(let t) = self { t.deallocate() }
    }

    /// `dst (cols, rows) = srcᵀ`, `src` (rows, cols), both row-major, in 16 × 16 tiles (a plain
    /// double loop writes with a stride of `rows` and misses the cache on every store); float32
    /// through `rnn_transpose_f32` (the tiles transposed in AVX-512 registers). Exact either way.
    static func transpose(_ src: UnsafePointer<Scalar>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Scalar>) {
        if Scalar.self == Float.self {
            rnn_transpose_f32(rows, cols, UnsafeRawPointer(src).assumingMemoryBound(to: Float.self), cols,
                              UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self), rows)
            return
        }
        let tile = 16
        for r0 in stride(from: 0, to: rows, by: tile) {
            let r1 = min(r0 + tile, rows)
            for c0 in stride(from: 0, to: cols, by: tile) {
                let c1 = min(c0 + tile, cols)
                for r in r0..<r1 {
                    for c in c0..<c1 { dst[c * rows + r] = src[r * cols + c] }
                }
            }
        }
    }
}
