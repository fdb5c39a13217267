import Experiments
import Foundation
import RNNCore

/// Runs one workload exported by `run_bench.py` (`peers/common.py`) through the real engine
/// (`TruncatedBPTT`): the same data and initial weights as the peers, the recurrent layer type that
/// the workload names (`rnn`, `lstm`, `indrnn`) under a dense softmax layer,
/// tau_b = tau_max = K, plain SGD lr 0.01, state carried across windows. Prints one JSON line with
/// the fields the peers print; its `final_loss` must match theirs to float32 rounding: the proof
/// that it did the same work.
///
/// Usage: tbptt-bench --data DIR [--windows N] [--warmup N] [--algorithm A]   train (counts default to
///                                          workload.json's; A: bptt = BPTT(K, K), bptt1 = BPTT(1, 1),
///                                          rtrl | snap1 | uoro | rflo | kf-rtrl = online, tau_b 1; default the
///                                          workload's `algorithm`, else bptt)
///        tbptt-bench --data DIR ... [--precision float32|float64] [--trace FILE]   train in that
///                                          precision (default float32; float64 for `make crosscheck`);
///                                          FILE gets every update's step n, loss and gradient
///                                          (ParameterLayout order, P values) as float64, native byte
///                                          order, one row of 2 + P per update (not meant for timing)
///        tbptt-bench --layer KIND      does the engine have layer KIND? exit 0, or 3 (below)
///        tbptt-bench --sgemm M N K     single-thread SGEMM rate of one shape (GFLOP/s)
///        tbptt-bench --compare-small-gemm M N K
///        tbptt-bench --gemm-compare TA TB M N K [ROUNDS]   the own packed AVX-512 GEMM vs the system
///                                          BLAS on one shape (TA, TB: 0 or 1), interleaved rounds,
///                                          best of each, timed in thread CPU time (a shared machine's
///                                          other processes do not count); one JSON line
///        tbptt-bench --kernels          the matrix-product kernels this process uses (one JSON line)
///        tbptt-bench --data DIR --detail   GFLOP/s of each matrix product of the workload's update
///                                          (the shapes of one window, each timed alone, best of 5)
/// The layer name goes to the engine as `LayerKind(rawValue:)`; when the engine has no such kind
/// (or rejects the network for a non-rnn kind) it prints "unsupported layer KIND" and exits 3, which
/// `run_bench.py` reads as "leave the rows of this layer out". Any other error exits 2.

let unsupportedLayerStatus: Int32 = 3

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
    // The same OpenBLAS set-up as the rnn-exp tool (one thread; the CPU's kernel set where Debian's
    // OpenBLAS falls back to a generic one): re-executes this process once when it changes anything.
    BLASProcessSetup.start()
    BLASProcessSetup.reexecIfItHelps()
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
    if CommandLine.arguments.contains("--kernels") {
        print("{\"kernel\": \"\(kernelDescription())\"}")
        return
    }
    if let i = CommandLine.arguments.firstIndex(of: "--gemm-compare") {
        let d = CommandLine.arguments[(i + 1)...].prefix(6).compactMap { Int($0) }
        guard d.count >= 5 else { throw BenchError("--gemm-compare TA TB M N K [ROUNDS]") }
        let (ta, tb, m, n, k) = (d[0] != 0, d[1] != 0, d[2], d[3], d[4])
        let rounds = d.count > 5 ? d[5] : 15
        var rng = Xoshiro256(seed: 1)
        let a = (0..<(m * k)).map { _ in Float(rng.uniform(-1, 1)) }
        let b = (0..<(k * n)).map { _ in Float(rng.uniform(-1, 1)) }
        var c = [Float](repeating: 0, count: m * n)
        var best: [SGEMMPath: Double] = [:]
        for _ in 0..<rounds {
            for path in SGEMMPath.allCases {
                let r = cpuTimeRate(flops: 2 * Double(m * n * k), seconds: 0.03) {
                    c.withUnsafeMutableBufferPointer {
                        sgemm(path: path, transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: a, lda: ta ? m : k,
                              b: b, ldb: tb ? k : n, beta: 1, c: $0.baseAddress!, ldc: n)
                    }
                }
                best[path] = max(best[path] ?? 0, r)
            }
        }
        let own = best[.own]!, blas = best[.blas]!
        print("{\"shape\": \"\(ta ? "T" : "N")\(tb ? "T" : "N") \(m)x\(n)x\(k)\", \"own_gflops\": \(String(format: "%.1f", own)), "
              + "\"blas_gflops\": \(String(format: "%.1f", blas)), \"blas_core\": \"\(BLASRuntime.coreName)\", "
              + "\"engine_uses\": \"\(sgemmUsesOwnKernel(transA: ta, transB: tb, m: m, n: n, k: k) ? "own" : "blas")\"}")
        return
    }
    if let i = CommandLine.arguments.firstIndex(of: "--sgemm") {
        let dims = CommandLine.arguments[(i + 1)...].prefix(3).compactMap { Int($0) }
        guard dims.count == 3 else { throw BenchError("--sgemm M N K") }
        let rate = sgemmRate(m: dims[0], n: dims[1], k: dims[2])
        print("{\"sgemm\": [\(dims[0]), \(dims[1]), \(dims[2])], \"gflops\": \(String(format: "%.3f", rate)), \"blas_core\": \"\(BLASRuntime.coreName)\"}")
        return
    }
    if let name = option("--layer"), option("--data") == nil {
        let kind = try layerKind(name)
        print("supported layer \(kind.rawValue)")
        return
    }
    guard let dir = option("--data") else {
        throw BenchError("usage: tbptt-bench --data DIR [--windows N] [--warmup N] | --layer KIND | --sgemm M N K")
    }
    let w = try Workload.load(dir)
    if CommandLine.arguments.contains("--detail") {
        printDetail(w)
        return
    }
    let kind = try layerKind(option("--layer") ?? w.layer)
    let windows = try option("--windows").map { try count($0, "--windows") } ?? w.windows
    let warmup = try option("--warmup").map { try count($0, "--warmup") } ?? w.warmup
    let steps = (warmup + windows) * w.K
    let spec = NetworkSpec(inputs: w.I, layers: [(kind, w.H, .tanh), (.dense, w.C, .softmax)], loss: .crossEntropy)
    let problems = spec.problems()
    if !problems.isEmpty {
        if kind != .rnn { throw UnsupportedLayer(name: kind.rawValue, reason: problems.joined(separator: "; ")) }
        throw BenchError("invalid network: \(problems.joined(separator: "; "))")
    }
    // Read the arrays in a scope of their own so that the file bytes are freed before training.
    let (xs, ys): ([Float], [Int32]) = try {
        let x = try NPYArray.load("\(dir)/x.npy")
        guard x.shape == [x.shape[0], w.B, w.I], x.shape[0] >= steps else {
            throw BenchError("\(dir)/x.npy has shape \(x.shape); expected at least (\(steps), \(w.B), \(w.I))")
        }
        return (try x.floats(limit: steps * w.B * w.I), try NPYArray.load("\(dir)/y.npy").int32s(limit: steps * w.B))
    }()
    // Initial weights by the engine's own tensor names (`layers.0.W_s`, ...): the file names, not
    // an assumed order, decide where each tensor goes in the flat parameter vector.
    let layout = ParameterLayout(spec)
    var params = [Double](repeating: .nan, count: layout.count)
    for tensor in layout.namedTensors(spec) {
        let file = "\(dir)/init_\(tensor.name).npy"
        guard FileManager.default.fileExists(atPath: file) else {
            throw BenchError("\(file) is missing: the workload has no initial value for the engine's tensor \(tensor.name)")
        }
        let a = try NPYArray.load(file)
        guard a.shape == tensor.shape, a.count == tensor.range.count else {
            throw BenchError("\(file) has shape \(a.shape); the engine's \(tensor.name) is \(tensor.shape)")
        }
        for (i, v) in try a.floats().enumerated() { params[tensor.range.lowerBound + i] = Double(v) }
    }
    guard !params.contains(where: { $0.isNaN }) else {
        throw BenchError("the workload's tensors do not cover the engine's \(layout.count) parameters")
    }
    switch option("--precision") ?? "float32" {
    case "float32":
        try train(Float.self, w, kind: kind, spec: spec, params: params, xs: xs, ys: ys, warmup: warmup, windows: windows)
    case "float64":
        try train(Double.self, w, kind: kind, spec: spec, params: params, xs: xs, ys: ys, warmup: warmup, windows: windows)
    case let p:
        throw BenchError("--precision \(p): float32 or float64")
    }
}

/// Trains the workload in `Scalar` precision (the data and initial weights are float32 values,
/// converted exactly) and prints the JSON line; with `--trace FILE`, also writes every update's
/// step, loss and gradient (see the usage above).
func train<Scalar: RNNScalar>(_: Scalar.Type, _ w: Workload, kind: LayerKind, spec: NetworkSpec, params: [Double],
                              xs: [Float], ys: [Int32], warmup: Int, windows: Int) throws {
    let steps = (warmup + windows) * w.K
    let batch = SequenceBatch<Scalar>(lanes: w.B, steps: steps, inputSize: w.I, outputSize: w.C,
                                      lengths: [Int](repeating: steps, count: w.B), inputs: .dense(xs.map { Scalar($0) }),
                                      targets: .classes(ys), mask: [UInt8](repeating: 1, count: steps * w.B))
    let tracePath = option("--trace")
    var trace = [Double]()
    // The algorithm: the workload's (`algorithm` in workload.json: an online one, one update per
    // step), or `--algorithm bptt1` for BPTT(1, 1) on the same data (the online rows' per-step
    // yardstick); otherwise BPTT(K, K).
    let algorithmName = option("--algorithm") ?? w.algorithm ?? "bptt"
    let trainer: any TrainingAlgorithm<Scalar>
    let updatesPerWindow: Int
    switch algorithmName {
    case "bptt":
        trainer = TruncatedBPTT<Scalar>(spec: spec, parameters: params, truncation: Truncation(tauB: w.K, tauMax: w.K),
                                       optimizer: OptimizerSettings(name: .sgd, lr: w.lr))
        updatesPerWindow = 1
    case "bptt1":
        trainer = TruncatedBPTT<Scalar>(spec: spec, parameters: params, truncation: Truncation(tauB: 1, tauMax: 1),
                                       optimizer: OptimizerSettings(name: .sgd, lr: w.lr))
        updatesPerWindow = w.K
    default:
        guard let online = OnlineAlgorithm(rawValue: algorithmName) else {
            throw BenchError("unknown algorithm \(algorithmName): bptt, bptt1, rtrl, snap1, uoro, rflo or kf-rtrl")
        }
        // Seed 0: UORO's noise and KF-RTRL's signs of (seed 0, epoch 0, batch 0, lane, step), as the
        // numpy peer draws them.
        trainer = try OnlineTraining<Scalar>(spec: spec, parameters: params, algorithm: online, tauB: 1,
                                            rfloDecay: w.rfloDecay ?? 0, optimizer: OptimizerSettings(name: .sgd, lr: w.lr),
                                            clipNorm: nil, diagnostics: GradientDiagnostics(), seed: 0)
        updatesPerWindow = w.K
    }
    var timedFrom: UInt64 = 0
    // The final loss: the last window's (BPTT(K, K)), or the mean of the last K updates' losses
    // (one update per step).
    var recentLosses = [Double](repeating: .nan, count: updatesPerWindow)
    var seen = 0
    let start = DispatchTime.now().uptimeNanoseconds
    let cpuStart = processCPUSeconds()
    var cpuFrom = cpuStart
    let result = trainer.train(batch, at: BatchPosition(epoch: 0, index: 0)) { event in
        recentLosses[seen % updatesPerWindow] = event.loss
        if tracePath != nil {
            trace.append(Double(event.step))
            trace.append(event.loss)
            for g in event.gradients { trace.append(Double(g)) }
        }
        seen += 1
        if seen == warmup * updatesPerWindow { timedFrom = DispatchTime.now().uptimeNanoseconds; cpuFrom = processCPUSeconds() }
    }
    let end = DispatchTime.now().uptimeNanoseconds
    let cpuSeconds = max(processCPUSeconds() - cpuFrom, 1e-9)
    if warmup == 0 { timedFrom = start }
    let lastLoss = recentLosses.reduce(0, +) / Double(updatesPerWindow)
    guard result.updates == (warmup + windows) * updatesPerWindow, result.divergence == nil, lastLoss.isFinite else {
        throw BenchError("unexpected training result: \(result.updates) updates, last loss \(lastLoss)")
    }
    let seconds = Double(end - timedFrom) / 1e9
    let sampleSteps = Double(w.B * w.K * windows)
    let out: [String: Any] = [
        "framework": "rnn-exp", "layer": kind.rawValue, "algorithm": algorithmName, "workload": w.name, "threads": 1, "windows": windows,
        "seconds": (seconds * 1e6).rounded() / 1e6,
        "sample_steps_per_s": (sampleSteps / seconds * 10).rounded() / 10,
        "cpu_seconds": (cpuSeconds * 1e6).rounded() / 1e6,
        "sample_steps_per_cpu_s": (sampleSteps / cpuSeconds * 10).rounded() / 10,
        "final_loss": lastLoss, "warmup": warmup, "dtype": Scalar.self == Double.self ? "float64" : "float32",
        "version": "rnn-exp (\(BLASEnvironment.description))",
        "kernel": kernelDescription(),
    ]
    if let path = tracePath {
        let bytes = trace.withUnsafeBufferPointer { Data(buffer: $0) }
        guard FileManager.default.createFile(atPath: path, contents: bytes) else { throw BenchError("cannot write \(path)") }
    }
    let json = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}

/// The matrix-product kernels of this process: the window GEMMs' path, the BLAS core (and the
/// user's OPENBLAS_CORETYPE), the per-step recurrence kernel.
func kernelDescription() -> String {
    let recurrence = PackedProduct.usesAVX512 ? "packed panels AVX-512" : "packed panels, naive twin"
    return "window GEMMs: \(BLASRuntime.gemmPath); BLAS: \(BLASEnvironment.description); recurrence: \(recurrence)"
}

/// CPU seconds this process has used (all threads): the peers report the same (`time.process_time`).
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
}

/// Rate of `f` (GFLOP/s) in this thread's CPU time: `f` repeated until it has used `seconds`.
func cpuTimeRate(flops: Double, seconds: Double, _ f: () -> Void) -> Double {
    func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
    }
    var reps = 1
    while true {
        let t0 = now()
        for _ in 0..<reps { f() }
        let s = now() - t0
        if s > seconds { return flops * Double(reps) / s / 1e9 }
        reps *= 2
    }
}

/// Best-of-5 rate of `f`, which does `flops` floating-point operations per call (GFLOP/s); each
/// sample repeats `f` until it has run 0.1 s.
func bestRate(flops: Double, _ f: () -> Void) -> Double {
    var best = 0.0
    for _ in 0..<5 {
        var reps = 1
        while true {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<reps { f() }
            let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if s > 0.1 { best = max(best, flops * Double(reps) / s / 1e9); break }
            reps *= 2
        }
    }
    return best
}

/// `--detail`: every matrix product of one update of the workload (a recurrent layer of H units and
/// G·H gate rows — G = 1 rnn, 4 lstm — under a dense layer of C, window of K steps on B lanes:
/// R = K·B rows), timed alone on its own shape, as JSON lines {"product", "shape", "gflops", "path"}.
func printDetail(_ w: Workload) {
    let (I, H, C, B, K) = (w.I, w.H, w.C, w.B, w.K)
    let gates = w.layer == "lstm" ? 4 : 1
    let G = gates * H
    let rows = K * B
    var rng = Xoshiro256(seed: 1)
    func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.uniform(-1, 1)) * 0.05 } }
    func blas(_ name: String, transA: Bool, transB: Bool, m: Int, n: Int, k: Int) {
        let a = random(m * k), b = random(k * n)
        var c = [Float](repeating: 0, count: m * n)
        var rates: [SGEMMPath: Double] = [:]
        for path in SGEMMPath.allCases {
            rates[path] = bestRate(flops: 2 * Double(m * n * k)) {
                c.withUnsafeMutableBufferPointer {
                    sgemm(path: path, transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: transA ? m : k,
                          b: b, ldb: transB ? k : n, beta: 1, c: $0.baseAddress!, ldc: n)
                }
            }
        }
        let own = sgemmUsesOwnKernel(transA: transA, transB: transB, m: m, n: n, k: k)
        emit(name, [m, n, k], rates[own ? .own : .blas]!,
             (own ? "own AVX-512 GEMM" : "BLAS (\(BLASRuntime.coreName))")
             + String(format: " [own %.1f, BLAS %.1f]", rates[.own]!, rates[.blas]!))
    }
    func emit(_ name: String, _ shape: [Int], _ rate: Double, _ path: String) {
        print("{\"product\": \"\(name)\", \"shape\": \(shape), \"gflops\": \(String(format: "%.1f", rate)), \"path\": \"\(path)\"}")
    }
    let z = gates == 1 ? "Z" : "gates"
    blas("input projection \(z) = X·SWᵀ (window)", transA: false, transB: true, m: rows, n: G, k: I)
    blas("output layer Y = H·SW_outᵀ (window)", transA: false, transB: true, m: rows, n: C, k: H)
    blas("errors to h E = Δ_out·SW_out (window)", transA: false, transB: false, m: rows, n: H, k: C)
    blas("output gradient ΔSW_out += Δ_outᵀ·H (window)", transA: true, transB: false, m: C, n: H, k: rows)
    blas("input gradient ΔSW += Δᵀ·X (window)", transA: true, transB: false, m: G, n: I, k: rows)
    blas("recurrent gradient ΔTW += Δᵀ·H (window)", transA: true, transB: false, m: G, n: H, k: rows)
    blas("recurrence \(z) += h·TWᵀ (per step, BLAS)", transA: false, transB: true, m: B, n: G, k: H)
    // The per-step recurrence on TW packed once per window (the engine's path where it is in use).
    let tw = random(G * H), h = random(B * G), hPrev = random(B * G)
    let forward = tw.withUnsafeBufferPointer { PackedProduct.pack(k: H, n: G, $0.baseAddress!, rowStride: 1, columnStride: H) }
    let backward = tw.withUnsafeBufferPointer { PackedProduct.pack(k: G, n: H, $0.baseAddress!, rowStride: H, columnStride: 1) }
    let kernel = PackedProduct.usesAVX512 ? "packed panels, AVX-512" : "packed panels, naive twin"
    var out = [Float](repeating: 0, count: B * G)
    func packed(_ name: String, _ panels: [Float], n: Int, k: Int, _ epilogue: PackedProduct.Epilogue) {
        let rate = bestRate(flops: 2 * Double(B * n * k)) {
            out.withUnsafeMutableBufferPointer {
                PackedProduct.product(m: B, n: n, k: k, a: hPrev, lda: k, packed: panels, c: $0.baseAddress!, ldc: n,
                                      epilogue: epilogue, h: h, ldh: n)
            }
        }
        emit(name, [B, n, k], rate, kernel)
    }
    if gates == 1 {
        packed("recurrence z = tanh(z + h·TWᵀ) (per step)", forward, n: H, k: H, .tanh)
        packed("recurrence δ = (e + δ·TW)(1-h²) (per step)", backward, n: H, k: H, .tanhDerivative)
        packed("recurrence z += h·TWᵀ, no epilogue (per step)", forward, n: H, k: H, .none)
    } else {
        packed("recurrence gates += h·TWᵀ (per step)", forward, n: G, k: H, .none)
        packed("recurrence dh += δ·TW (per step)", backward, n: H, k: G, .none)
    }
    let packRate = bestRate(flops: 2 * Double(B * G * H)) {  // flops of one step's product, per pack
        tw.withUnsafeBufferPointer { blackHole(PackedProduct.pack(k: H, n: G, $0.baseAddress!, rowStride: 1, columnStride: H)) }
    }
    emit("pack TWᵀ once per window (rate in step-product equivalents)", [H, G], packRate, "C")
}

/// The engine's layer kind of that name; `UnsupportedLayer` (exit 3) when it has none.
func layerKind(_ name: String) throws -> LayerKind {
    guard let kind = LayerKind(rawValue: name) else { throw UnsupportedLayer(name: name, reason: nil) }
    return kind
}

func count(_ text: String, _ flag: String) throws -> Int {
    guard let n = Int(text), n >= 0 else { throw BenchError("\(flag) needs a whole number, not \(text)") }
    return n
}

struct UnsupportedLayer: Error {
    let name: String
    let reason: String?
}

/// `workload.json` of an exported workload (`peers/common.py`, `export`).
struct Workload {
    var name: String, layer: String
    var I: Int, H: Int, C: Int, B: Int, K: Int
    var lr: Double
    var warmup: Int, windows: Int
    /// An online algorithm (`rtrl`, `snap1`, `uoro`, `rflo`, `kf-rtrl`: one update per step, tau_b = 1), or
    /// nil for BPTT(K, K); rflo's decay λ.
    var algorithm: String? = nil
    var rfloDecay: Double? = nil

    static func load(_ dir: String) throws -> Workload {
        let path = "\(dir)/workload.json"
        guard let data = FileManager.default.contents(atPath: path),
              let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw BenchError("cannot read \(path)")
        }
        func int(_ k: String) throws -> Int {
            guard let v = o[k] as? Int, v >= 0 else { throw BenchError("\(path): \(k) missing or not a count") }
            return v
        }
        guard let name = o["name"] as? String, let layer = o["layer"] as? String, let lr = (o["lr"] as? NSNumber)?.doubleValue else {
            throw BenchError("\(path): name, layer or lr missing")
        }
        return Workload(name: name, layer: layer, I: try int("I"), H: try int("H"), C: try int("C"), B: try int("B"),
                        K: try int("K"), lr: lr, warmup: try int("warmup"), windows: try int("windows"),
                        algorithm: o["algorithm"] as? String, rfloDecay: (o["rflo_decay"] as? NSNumber)?.doubleValue)
    }
}

do { try main() } catch let e as UnsupportedLayer {
    print("unsupported layer \(e.name)" + (e.reason.map { ": \($0)" } ?? ""))
    exit(unsupportedLayerStatus)
} catch {
    FileHandle.standardError.write(Data("tbptt-bench: \(error)\n".utf8))
    exit(2)
}
