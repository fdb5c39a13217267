import RNNKernels

/// The recurrent weight `TW` (G·U×U; G = 1 for rnn, 4 lstm, 3 gru) of a float32 recurrent layer,
/// packed into the panel layout of the AVX-512 micro-kernel of `RNNKernels` (`rnn_sgemm_packed`):
/// `TW` is constant within an update window, so it is packed once there instead of at every
/// step's product (which BLAS re-packs).
///
/// - `forward`: panels of `TWᵀ` (U×G·U), for `z_m (B×G·U) += h_{m-1} · TWᵀ` (rnn: `tanh` fused in);
/// - `backward`: panels of `TW` (G·U×U), for `dh (B×U) += delta (B×G·U) · TW` (rnn: `1 - h²` fused in).
final class RecurrentPanels {
    let units: Int
    /// G·U: the rows of `TW`.
    let gateRows: Int
    let forward: UnsafeMutablePointer<Float>
    let backward: UnsafeMutablePointer<Float>

    /// Panels for a recurrent layer when the packed kernel is in use: float32 and a CPU with
    /// AVX-512 (elsewhere the recurrence keeps the AVX2 kernel or BLAS).
    static func make<Scalar: RNNScalar>(for layer: LayerSpec, scalar: Scalar.Type) -> RecurrentPanels? {
        guard Scalar.self == Float.self, layer.isRecurrent, rnn_kernels_avx512() != 0 else { return nil }
        return RecurrentPanels(units: layer.units, gates: layer.kind.gates)
    }

    init(units: Int, gates: Int = 1) {
        self.units = units
        self.gateRows = gates * units
        let count = rnn_pack_size(units, gateRows)  // both orientations hold U·G·U values, padded
        let countB = rnn_pack_size(gateRows, units)
        forward = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        backward = UnsafeMutableRawPointer.allocate(byteCount: max(countB, 1) * 4, alignment: 64).bindMemory(to: Float.self, capacity: countB)
        forward.initialize(repeating: 0, count: count)
        backward.initialize(repeating: 0, count: countB)
    }

    deinit {
        UnsafeMutableRawPointer(forward).deallocate()
        UnsafeMutableRawPointer(backward).deallocate()
    }

    /// Packs `TWᵀ` (U×G·U: B(q, j) = TW[j, q]) from the current weights.
    func packForward<Scalar>(_ tw: UnsafePointer<Scalar>) {
        rnn_pack_b(units, gateRows, UnsafeRawPointer(tw).assumingMemoryBound(to: Float.self), 1, units, forward)
    }

    /// Packs `TW` (G·U×U: B(q, j) = TW[q, j]) from the current weights.
    func packBackward<Scalar>(_ tw: UnsafePointer<Scalar>) {
        rnn_pack_b(gateRows, units, UnsafeRawPointer(tw).assumingMemoryBound(to: Float.self), units, 1, backward)
    }

    /// Gated layers, no epilogue: `c (rows×G·U, ldc) += h (rows×U) · TWᵀ`.
    @inline(__always)
    func gateProduct<Scalar>(_ h: UnsafePointer<Scalar>, into c: UnsafeMutablePointer<Scalar>, ldc: Int, rows: Int) {
        rnn_sgemm_packed(rows, gateRows, units, UnsafeRawPointer(h).assumingMemoryBound(to: Float.self), units, forward,
                         UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc, PackedProduct.Epilogue.none.rawValue,
                         nil, 0)
    }

    /// Gated layers: `dh (rows×U) += delta (rows×G·U, lda) · TW`.
    @inline(__always)
    func stateProduct<Scalar>(_ delta: UnsafePointer<Scalar>, lda: Int, into dh: UnsafeMutablePointer<Scalar>, rows: Int) {
        rnn_sgemm_packed(rows, units, gateRows, UnsafeRawPointer(delta).assumingMemoryBound(to: Float.self), lda, backward,
                         UnsafeMutableRawPointer(dh).assumingMemoryBound(to: Float.self), units, PackedProduct.Epilogue.none.rawValue,
                         nil, 0)
    }

    /// `c (rows×U) += a (rows×U) · panels`, then the epilogue (`h`: the layer's outputs, for `.tanhDerivative`).
    @inline(__always)
    func product<Scalar>(_ a: UnsafePointer<Scalar>, _ panels: UnsafePointer<Float>, into c: UnsafeMutablePointer<Scalar>,
                         rows: Int, epilogue: PackedProduct.Epilogue, h: UnsafePointer<Scalar>? = nil) {
        rnn_sgemm_packed(rows, units, units, UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), units, panels,
                         UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), units, epilogue.rawValue,
                         h.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) }, units)
    }
}

/// The packed float32 product of `RNNKernels` for tests and benchmarks: packing, the AVX-512
/// kernel (where the CPU has it) and its naive twin, on the same packed input.
public enum PackedProduct {
    /// What happens to `C + A·B` before it is stored.
    public enum Epilogue: Int32, Sendable, CaseIterable {
        case none = 0           // C + A·B
        case tanh = 1           // tanh(C + A·B)
        case tanhDerivative = 2 // (C + A·B) ⊙ (1 - H²)
    }

    /// Whether `product` runs the AVX-512 micro-kernel (else the naive twin).
    public static var usesAVX512: Bool { rnn_kernels_avx512() != 0 }

    /// B (k×n) with `B(q, j) = b[q · rowStride + j · columnStride]`, packed into panels.
    public static func pack(k: Int, n: Int, _ b: UnsafePointer<Float>, rowStride: Int, columnStride: Int) -> [Float] {
        var packed = [Float](repeating: .nan, count: rnn_pack_size(k, n))
        packed.withUnsafeMutableBufferPointer { rnn_pack_b(k, n, b, rowStride, columnStride, $0.baseAddress!) }
        return packed
    }

    /// `C (m×n, ldc) += A (m×k, lda) · B` from `pack`'s panels, then `epilogue` (`h`: m×n, ldh).
    public static func product(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, packed: UnsafePointer<Float>,
                               c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue = .none,
                               h: UnsafePointer<Float>? = nil, ldh: Int = 0, naive: Bool = false) {
        if naive {
            rnn_sgemm_packed_naive(m, n, k, a, lda, packed, c, ldc, epilogue.rawValue, h, ldh)
        } else {
            rnn_sgemm_packed(m, n, k, a, lda, packed, c, ldc, epilogue.rawValue, h, ldh)
        }
    }
}
