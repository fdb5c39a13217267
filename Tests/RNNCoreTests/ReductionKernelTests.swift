import Testing
import RNNCore
import RNNKernels
import RNNTestSupport

/// The reductions of `RNNKernels`. Column sums (bias gradients): the AVX-512 version against its
/// naive twin (bit for bit: both sum each column from zero in row order) and against float64, on
/// awkward widths (1, a prime, one vector, past four vectors with a tail), one row and many, with a
/// row stride wider than the columns, and with `sums` not starting at zero. Sum of squares (the
/// gradient norm) against its twin and an exact float64 sum, at lengths around the 32-wide blocks.
@Suite("Reduction kernels")
struct ReductionKernelTests {
    @Test func fastMatchesTwinAndFloat64() {
        var rng = Xoshiro256(seed: 31)
        for (rows, cols) in [(1, 1), (7, 13), (3, 16), (800, 64), (5, 65), (33, 131), (200, 512)] {
            let ldx = cols + 5
            let x = (0..<(rows * ldx)).map { _ in Float(rng.uniform(-1, 1)) }
            let start = (0..<(cols + 1)).map { _ in Float(rng.uniform(-1, 1)) }
            var fast = start, twin = start
            rnn_column_sums_f32(rows, cols, x, ldx, &fast)
            rnn_column_sums_naive(rows, cols, x, ldx, &twin)
            #expect(fast == twin, "\(rows)x\(cols): fast and twin differ")
            #expect(fast[cols] == start[cols], "\(rows)x\(cols): wrote past cols")
            for j in 0..<cols {
                var exact = Double(start[j])
                for r in 0..<rows { exact += Double(x[r * ldx + j]) }
                #expect(abs(Double(twin[j]) - exact) <= 1e-6 * Double(rows).squareRoot() * 4 + 1e-6,
                        "\(rows)x\(cols) column \(j): \(twin[j]) vs \(exact)")
            }
        }
    }

    @Test func sumOfSquaresMatchesTwinAndFloat64() {
        var rng = Xoshiro256(seed: 32)
        for n in [0, 1, 7, 31, 32, 33, 100, 4097] {
            let x = (0..<n).map { _ in Float(rng.uniform(-3, 3)) }
            let exact = x.reduce(0.0) { $0 + Double($1) * Double($1) }
            let fast = rnn_sum_squares_f32(x, n), twin = rnn_sum_squares_naive(x, n)
            #expect(abs(fast - exact) <= 1e-13 * max(exact, 1), "n = \(n): fast \(fast) vs \(exact)")
            #expect(abs(twin - exact) <= 1e-13 * max(exact, 1), "n = \(n): twin \(twin) vs \(exact)")
        }
    }
}
