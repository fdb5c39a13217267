import Foundation
import RNNCore

/// Runs `../shared/bench/tbptt_bench.py`'s workloads through the real engine (`TruncatedBPTT`):
/// the same exported data and initial weights, tau_b = tau_max = K, plain SGD lr 0.01, state
/// carried across windows, and prints the same JSON fields. Its `final_loss` must match numpy's
/// to float32 rounding: the proof that it does the same work.
///
/// Usage: tbptt-bench --data DIR --workload small|medium|large [--windows 200] [--warmup 5]
///        tbptt-bench --sgemm M N K      single-thread SGEMM rate of one shape (GFLOP/s)

let workloads: [String: (I: Int, H: Int, C: Int, B: Int, K: Int)] = [
    "small": (16, 32, 16, 16, 20),
    "medium": (64, 128, 64, 32, 25),
    "large": (64, 512, 64, 64, 50),
]

func option(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

func sgemmRate(m: Int, n: Int, k: Int) -> Double {
    var rng = Xoshiro256(seed: 1)
    let a = (0..<(m * k)).map { _ in Float(rng.uniform(-1, 1)) }
    let b = (0..<(k * n)).map { _ in Float(rng.uniform(-1, 1)) }
    var c = [Float](repeating: 0, count: m * n)
    var reps = 1
    while true {
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<reps {
            c.withUnsafeMutableBufferPointer { cp in
                Float.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k,
                           beta: 0, c: cp.baseAddress!, ldc: n)
            }
        }
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        if s > 0.5 { blackHole(c); return 2 * Double(m * n * k) * Double(reps) / s / 1e9 }
        reps *= 2
    }
}

func main() throws {
    BLASRuntime.useSingleThread()
    if let i = CommandLine.arguments.firstIndex(of: "--compare-small-gemm") {
        // The recurrence's product z (M×N) += h (M×K) · W (K×N): BLAS against the C kernel.
        let d = CommandLine.arguments[(i + 1)...].prefix(3).compactMap { Int($0) }
        let (m, n, k) = (d[0], d[1], d[2])
        var rng = Xoshiro256(seed: 1)
        let a = (0..<(m * k)).map { _ in Float(rng.uniform(-1, 1)) }
        let b = (0..<(k * n)).map { _ in Float(rng.uniform(-1, 1)) }
        var c = [Float](repeating: 0, count: m * n)
        func rate(_ f: () -> Void) -> Double {
            var reps = 1
            while true {
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<reps { f() }
                let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                if s > 0.3 { return 2 * Double(m * n * k) * Double(reps) / s / 1e9 }
                reps *= 2
            }
        }
        let blas = rate { c.withUnsafeMutableBufferPointer { Float.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 1, c: $0.baseAddress!, ldc: n) } }
        let kernel = rate { c.withUnsafeMutableBufferPointer { smallGEMMAccumulate(m: m, n: n, k: k, a: a, b: b, c: $0.baseAddress!) } }
        print("\(m)x\(n)x\(k): BLAS \(String(format: "%.1f", blas)) GFLOP/s, kernel \(String(format: "%.1f", kernel)) GFLOP/s")
        return
    }
    if let i = CommandLine.arguments.firstIndex(of: "--sgemm") {
        let dims = CommandLine.arguments[(i + 1)...].prefix(3).compactMap { Int($0) }
        guard dims.count == 3 else { throw BenchError("--sgemm M N K") }
        let rate = sgemmRate(m: dims[0], n: dims[1], k: dims[2])
        print("{\"sgemm\": [\(dims[0]), \(dims[1]), \(dims[2])], \"gflops\": \(String(format: "%.3f", rate)), \"blas_core\": \"\(BLASRuntime.coreName)\"}")
        return
    }
    guard let dir = option("--data"), let name = option("--workload"), let w = workloads[name] else {
        throw BenchError("usage: tbptt-bench --data DIR --workload small|medium|large [--windows N] [--warmup N]")
    }
    let windows = Int(option("--windows") ?? "200") ?? 200
    let warmup = Int(option("--warmup") ?? "5") ?? 5
    let steps = (warmup + windows) * w.K
    // Read the arrays in a scope of their own so that the file bytes are freed before training.
    let (xs, ys): ([Float], [Int32]) = try {
        let x = try NPYArray.load("\(dir)/x.npy")
        guard x.shape == [x.shape[0], w.B, w.I], x.shape[0] >= steps else {
            throw BenchError("\(dir)/x.npy has shape \(x.shape); expected at least (\(steps), \(w.B), \(w.I))")
        }
        return (try x.floats(limit: steps * w.B * w.I), try NPYArray.load("\(dir)/y.npy").int32s(limit: steps * w.B))
    }()
    var params: [Double] = []
    for key in ["W_x", "W_h", "b", "W_o", "b_o"] {
        params += try NPYArray.load("\(dir)/init_\(key).npy").floats().map(Double.init)
    }
    let spec = NetworkSpec(inputs: w.I, layers: [(.rnn, w.H, .tanh), (.dense, w.C, .softmax)], loss: .crossEntropy)
    precondition(params.count == ParameterLayout(spec).count, "weights do not match the workload")
    let batch = SequenceBatch<Float>(lanes: w.B, steps: steps, inputSize: w.I, outputSize: w.C,
                                     lengths: [Int](repeating: steps, count: w.B), inputs: .dense(xs),
                                     targets: .classes(ys), mask: [UInt8](repeating: 1, count: steps * w.B))
    let trainer = TruncatedBPTT<Float>(spec: spec, parameters: params, truncation: Truncation(tauB: w.K, tauMax: w.K),
                                       optimizer: OptimizerSettings(name: .sgd, lr: 0.01))
    var timedFrom: UInt64 = 0
    var lastLoss = Double.nan
    var seen = 0
    let start = DispatchTime.now().uptimeNanoseconds
    let result = trainer.train(batch) { event in
        seen += 1
        lastLoss = event.loss
        if seen == warmup { timedFrom = DispatchTime.now().uptimeNanoseconds }
    }
    let end = DispatchTime.now().uptimeNanoseconds
    if warmup == 0 { timedFrom = start }
    precondition(result.updates == warmup + windows && result.divergence == nil, "unexpected training result")
    precondition(lastLoss.isFinite)
    let seconds = Double(end - timedFrom) / 1e9
    let sampleSteps = Double(w.B * w.K * windows)
    let flops = 6.0 * Double(w.I * w.H + w.H * w.H + w.H * w.C) * sampleSteps
    let out: [String: Any] = [
        "framework": "rnn-exp", "variant": "default", "workload": name, "threads": 1, "windows": windows,
        "seconds": (seconds * 1e6).rounded() / 1e6,
        "sample_steps_per_s": (sampleSteps / seconds * 10).rounded() / 10,
        "gflops": (flops / seconds / 1e9 * 1000).rounded() / 1000,
        "final_loss": lastLoss, "warmup": warmup, "dtype": "float32",
        "version": "rnn-exp (OpenBLAS core \(BLASRuntime.coreName))",
    ]
    let json = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}

do { try main() } catch {
    FileHandle.standardError.write(Data("tbptt-bench: \(error)\n".utf8))
    exit(2)
}
