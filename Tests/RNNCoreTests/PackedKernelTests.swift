import Foundation
import Testing
import RNNCore
import RNNKernels
import RNNTestSupport

/// The packed recurrence product of `RNNKernels` (AVX-512 register blocks over panels of TW packed
/// once per window): the fast kernel against its naive twin, and the twin against `naiveGEMM` in
/// float64, on awkward shapes — 1×1, primes, B = 1, U not a multiple of the vector width (16)
/// or of the panel width (32), depths past one block — with each fused epilogue.
@Suite("Packed recurrence kernel")
struct PackedKernelTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (1, 7, 3), (13, 1, 5), (1, 33, 64), (2, 16, 17), (12, 32, 32), (13, 31, 29), (17, 19, 23),
        (11, 47, 61), (25, 65, 7), (64, 31, 2), (3, 128, 97), (32, 128, 128), (37, 97, 600),
    ]

    /// One shape and epilogue: (fast, twin, float64 reference) results, C starting random.
    static func run(_ s: (m: Int, n: Int, k: Int), _ epilogue: PackedProduct.Epilogue, transposed: Bool,
                    _ rng: inout Xoshiro256) -> (fast: [Float], twin: [Float], exact: [Double]) {
        let (m, n, k) = s
        let a = (0..<(m * k)).map { _ in Float(rng.uniform(-1, 1)) / Float(k).squareRoot() }
        // B (k×n) given either row-major (k×n) or as the transpose of a row-major (n×k) matrix.
        let w = (0..<(k * n)).map { _ in Float(rng.uniform(-1, 1)) }
        let c0 = (0..<(m * n)).map { _ in Float(rng.uniform(-1, 1)) }
        let h = (0..<(m * n)).map { _ in Float(rng.uniform(-1, 1)) }
        func bAt(_ q: Int, _ j: Int) -> Float { transposed ? w[j * k + q] : w[q * n + j] }
        let packed = w.withUnsafeBufferPointer {
            PackedProduct.pack(k: k, n: n, $0.baseAddress!, rowStride: transposed ? 1 : n, columnStride: transposed ? k : 1)
        }
        func product(naive: Bool) -> [Float] {
            var c = c0
            c.withUnsafeMutableBufferPointer { c in
                PackedProduct.product(m: m, n: n, k: k, a: a, lda: k, packed: packed, c: c.baseAddress!, ldc: n,
                                      epilogue: epilogue, h: h, ldh: n, naive: naive)
            }
            return c
        }
        let fast = product(naive: false), twin = product(naive: true)
        var exact = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = Double(c0[i * n + j])
                for q in 0..<k { sum += Double(a[i * k + q]) * Double(bAt(q, j)) }
                switch epilogue {
                case .none: exact[i * n + j] = sum
                case .tanh: exact[i * n + j] = Foundation.tanh(sum)
                case .tanhDerivative: exact[i * n + j] = sum * (1 - Double(h[i * n + j]) * Double(h[i * n + j]))
                }
            }
        }
        return (fast, twin, exact)
    }

    @Test(arguments: PackedProduct.Epilogue.allCases)
    func fastKernelMatchesTwinAndFloat64(_ epilogue: PackedProduct.Epilogue) {
        var rng = Xoshiro256(seed: 11)
        for s in Self.shapes {
            for transposed in [false, true] {
                let (fast, twin, exact) = Self.run(s, epilogue, transposed: transposed, &rng)
                let twinGap = zip(fast, twin).map { abs(Double($0) - Double($1)) }.max()!
                let exactGap = zip(twin, exact).map { abs(Double($0) - $1) }.max()!
                // float32 sums of k terms of size ≤ 1/√k (plus C): a few ulps of the running sum.
                #expect(twinGap <= 2e-6 * Double(s.k).squareRoot() + 1e-6, "\(s) \(epilogue) transposed \(transposed): fast vs twin \(twinGap)")
                #expect(exactGap <= 2e-6 * Double(s.k).squareRoot() + 1e-6, "\(s) \(epilogue) transposed \(transposed): twin vs float64 \(exactGap)")
            }
        }
    }

    /// C outside the m×n block (ldc > n) is left alone, and the zero padding of the last panel
    /// never leaks into C.
    @Test func leavesTheRestOfCAlone() {
        var rng = Xoshiro256(seed: 12)
        let (m, n, k, ldc) = (5, 21, 9, 40)
        let a = (0..<(m * k)).map { _ in Float(rng.uniform(-1, 1)) }
        let w = (0..<(k * n)).map { _ in Float(rng.uniform(-1, 1)) }
        let packed = w.withUnsafeBufferPointer { PackedProduct.pack(k: k, n: n, $0.baseAddress!, rowStride: n, columnStride: 1) }
        var c = [Float](repeating: 7, count: m * ldc)
        c.withUnsafeMutableBufferPointer {
            PackedProduct.product(m: m, n: n, k: k, a: a, lda: k, packed: packed, c: $0.baseAddress!, ldc: ldc)
        }
        for i in 0..<m {
            for j in n..<ldc { #expect(c[i * ldc + j] == 7) }
        }
    }

    /// The float32 trainer on the packed path (rnn layers of awkward widths, tanh fused in both
    /// directions, and a relu layer that is not) against the float64 engine, after several updates.
    /// `rnn_pack_b` (AVX-512 16 × 16 register transposes for transposed sources) writes exactly the
    /// panels of its naive twin, padding zeros included, in both orientations on awkward shapes.
    @Test func packingMatchesTwin() {
        for (k, n) in [(1, 1), (17, 5), (16, 32), (33, 47), (15, 100), (64, 2048), (129, 33)] {
            let b = (0..<(k * n)).map { Float($0) * 0.25 - 7 }
            for transposed in [true, false] {
                let (rs, cs) = transposed ? (1, k) : (n, 1)
                var fast = [Float](repeating: .nan, count: rnn_pack_size(k, n)), twin = fast
                rnn_pack_b(k, n, b, rs, cs, &fast)
                rnn_pack_b_naive(k, n, b, rs, cs, &twin)
                #expect(fast.map(\.bitPattern) == twin.map(\.bitPattern), "\(k)x\(n) transposed \(transposed)")
            }
        }
    }

    /// `rnn_transpose_f32` (16 × 16 tiles in AVX-512 registers) against its twin and the
    /// definition, bit for bit, on whole tiles, edges of every kind and strides wider than a row;
    /// nothing outside the destination's rows is written.
    @Test func transposeMatchesTwin() {
        for (rows, cols) in [(1, 1), (16, 16), (32, 32), (32, 16), (16, 32), (17, 33), (48, 49), (5, 70), (64, 3)] {
            let lds = cols + 3, ldd = rows + 5
            let src = (0..<(rows * lds)).map { Float($0) * 0.25 - 7 }
            let count = cols * ldd
            var fast = [Float](repeating: .nan, count: count), twin = fast
            rnn_transpose_f32(rows, cols, src, lds, &fast, ldd)
            rnn_transpose_naive(rows, cols, src, lds, &twin, ldd)
            var expected = [Float](repeating: .nan, count: count)
            for r in 0..<rows { for c in 0..<cols { expected[c * ldd + r] = src[r * lds + c] } }
            #expect(fast.map(\.bitPattern) == expected.map(\.bitPattern), "\(rows)x\(cols)")
            #expect(twin.map(\.bitPattern) == expected.map(\.bitPattern), "twin \(rows)x\(cols)")
        }
    }

    @Test func float32TrainerOnPackedPanelsMatchesFloat64() {
        let spec = NetworkSpec(inputs: 3, layers: [(.rnn, 37, .tanh), (.rnn, 17, .relu), (.dense, 4, .softmax)],
                               loss: .crossEntropy)
        func run<S: RNNScalar>(_ type: S.Type) -> [Double] {
            let trainer = TruncatedBPTT<S>(spec: spec, parameters: spec.initialParameters(seed: 4),
                                           truncation: Truncation(tauB: 4, tauMax: 7),
                                           optimizer: OptimizerSettings(name: .sgd, lr: 0.1))
            for seed in 0..<3 as Range<UInt64> {
                let batch = SequenceBatch<S>(TestData.samples(spec: spec, lengths: [15, 11, 15, 1, 15], seed: seed),
                                             inputSize: 3, outputSize: 4)
                _ = trainer.train(batch)
            }
            return trainer.parameters
        }
        let f32 = run(Float.self), f64 = run(Double.self)
        let start = spec.initialParameters(seed: 4)
        let moved = zip(f64, start).map { abs($0 - $1) }.max()!
        let gap = zip(f32, f64).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-3)
        #expect(gap <= 1e-4 * max(1, moved), "float32 vs float64 parameters: \(gap) (moved \(moved))")
    }
}
