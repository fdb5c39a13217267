import Foundation
import Testing
@testable import Experiments
import RNNCore
import RNNTestSupport

/// Issue 29 bug 8 / feature 3: a stop takes effect at the run's next update, inside a stream
/// epoch (one batch) or any long batch, with a checkpoint of everything the batch carries; the
/// run continued from it — or from a checkpoint written inside the epoch before a `kill -9` — ends
/// bit-identical to an uninterrupted run.
@Suite("Checkpoints inside an epoch", .serialized)
struct MidEpochCheckpointTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let yaml: String
        var testDescription: String { id }
    }

    /// Echo streams (one batch per epoch) under every algorithm, gated layers and diagnostics, a
    /// long online window (paused inside it), random truncation, and long sequences.
    static let cases: [Case] = ["float32", "float64"].flatMap { precision -> [Case] in
        func echo(_ id: String, _ model: String, _ training: String, _ extra: String = "") -> Case {
            Case(id: "\(id), \(precision)", yaml: """
                name: mid
                dataset: {kind: echo, train: 480, validation: 20}
                model: {layers: [\(model), {type: dense}]}
                training: {epochs: 2, batch: 3, precision: \(precision), clip_norm: 1, \(training),
                           optimizer: {name: adam, lr: 0.02, weight_decay: 0.01}}
                \(extra)
                """)
        }
        return [
            echo("bptt", "{type: rnn, units: 5}", "tau_max: 5, tau_b: 2"),
            echo("bptt lstm with diagnostics", "{type: lstm, units: 4}", "tau_max: 4, tau_b: 3",
                 "diagnostics: {gradient_every: 4, reference_tau_max: 8, credit_lags: 3}"),
            echo("bptt gru random truncation", "{type: gru, units: 4}", "tau_max: random, truncation: {continue: 0.85}"),
            echo("rtrl", "{type: rnn, units: 5}", "algorithm: rtrl"),
            echo("rtrl, window of 70 steps", "{type: rnn, units: 4}", "algorithm: rtrl, tau_b: 70"),
            echo("uoro", "{type: rnn, units: 5}", "algorithm: uoro, tau_b: 2"),
            echo("snap1 lstm", "{type: lstm, units: 3}", "algorithm: snap1"),
            echo("rflo", "{type: rnn, units: 5}", "algorithm: rflo, rflo_decay: 0.3, tau_b: 3"),
            Case(id: "adding, sequences of 60 steps, \(precision)", yaml: """
                name: mid
                dataset: {kind: adding, length: 60, train: 12, validation: 4}
                model: {layers: [{type: rnn, units: 5}, {type: dense, activation: identity}]}
                training: {epochs: 2, batch: 4, tau_max: 8, tau_b: 4, precision: \(precision),
                           optimizer: {name: sgd, lr: 0.05, momentum: 0.9}}

                """),
        ]
    }

    /// Stopped after `k` polls (every update boundary is one) for many `k`, through the
    /// checkpoint's bytes, continued: the same run, bit for bit. Most stops fall inside a batch.
    @Test(arguments: cases)
    func stopsInsideABatchContinueBitIdentically(_ c: Case) throws {
        let (plan, run) = try CheckpointTests.plan(.init(id: c.id, yaml: c.yaml))
        let metric = run.config.metric
        let reference = RunExecutor.execute(run.config, datasets: plan.datasets)
        #expect(reference.status == .done, "\(reference.status)")
        let expected = CheckpointTests.fingerprint(reference, metric: metric)
        var inside = 0, stops = 0
        for stopAfter in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144] {
            var polls = 0, saved: Checkpoint? = nil
            let first = RunExecutor.execute(run.config, datasets: plan.datasets,
                                            shouldStop: { polls += 1; return polls > stopAfter },
                                            checkpoint: { saved = $0 })
            guard first.status == .interrupted else { continue }
            stops += 1
            var stamped = try #require(saved)
            stamped.canonicalConfig = run.canonical
            let decoded = try Checkpoint.decode(stamped.encoded(metric: metric), metric: metric).get()
            #expect(decoded == stamped)
            if decoded.batch != nil { inside += 1 }
            let second = RunExecutor.execute(run.config, datasets: plan.datasets, resume: decoded)
            #expect(second.status == .done)
            #expect(CheckpointTests.fingerprint(second, metric: metric) == expected, "stopped after \(stopAfter) polls")
        }
        #expect(stops >= 5 && inside >= 3, "\(stops) stops, \(inside) inside a batch")
    }

    /// A checkpoint at every boundary (the run pauses and goes on from its own progress each
    /// time) changes nothing; continuing from any of those checkpoints — what a `kill -9` after
    /// it leaves — ends at the same result.
    @Test(arguments: cases)
    func checkpointsAtEveryBoundaryChangeNothingAndEachContinues(_ c: Case) throws {
        let (plan, run) = try CheckpointTests.plan(.init(id: c.id, yaml: c.yaml))
        let metric = run.config.metric
        let expected = CheckpointTests.fingerprint(RunExecutor.execute(run.config, datasets: plan.datasets), metric: metric)
        var written: [Checkpoint] = []
        let every = RunExecutor.execute(run.config, datasets: plan.datasets,
                                        checkpoints: CheckpointSchedule(interval: 0, costFactor: 0),
                                        checkpoint: { written.append($0) })
        #expect(CheckpointTests.fingerprint(every, metric: metric) == expected)
        let inside = written.filter { $0.batch != nil }
        #expect(inside.count >= 10, "\(inside.count) checkpoints inside a batch")
        var rng = SplitMix64(seed: 29)
        for _ in 0..<4 {
            var c = inside[Int(rng.unit() * Double(inside.count)) % inside.count]
            c.canonicalConfig = run.canonical
            let decoded = try Checkpoint.decode(c.encoded(metric: metric), metric: metric).get()
            let continued = RunExecutor.execute(run.config, datasets: plan.datasets, resume: decoded)
            #expect(CheckpointTests.fingerprint(continued, metric: metric) == expected,
                    "continued from step \(decoded.batch?.step ?? 0) of epoch \(decoded.records.count)")
        }
    }

    /// A batch in progress that does not fit (damaged, or another batch shape) is refused when
    /// read: the run starts over rather than training from a wrong state.
    @Test func progressThatDoesNotFitIsRefused() throws {
        let (plan, run) = try CheckpointTests.plan(.init(id: "rtrl", yaml: Self.cases[3].yaml))
        let metric = run.config.metric
        var polls = 0, saved: Checkpoint? = nil
        _ = RunExecutor.execute(run.config, datasets: plan.datasets, shouldStop: { polls += 1; return polls > 7 },
                                checkpoint: { saved = $0 })
        let c = try #require(saved)
        let progress = try #require(c.batch)
        var damaged = [c, c, c, c]
        damaged[0].batch?.tensors["online.influence"]?.removeLast()
        damaged[1].batch?.step = 100_000
        damaged[2].batch?.tensors["h.0"] = [1]
        damaged[3].batch?.numbers["online.lanes"] = 2
        let expected = CheckpointTests.fingerprint(RunExecutor.execute(run.config, datasets: plan.datasets), metric: metric)
        for d in damaged {
            let restarted = RunExecutor.execute(run.config, datasets: plan.datasets, resume: d)
            #expect(CheckpointTests.fingerprint(restarted, metric: metric) == expected)
        }
        #expect(progress.step > 0)
        // A batch in progress with a number missing or repeated is damage.
        #expect(Checkpoint.batchProgress("step=3 loss_sum=0", numbers: "", tensors: [:]) == nil)
        #expect(Checkpoint.batchProgress(Checkpoint.batchText(progress) + " step=4", numbers: "", tensors: [:]) == nil)
    }

    // MARK: - Real signals

    static let sweep = """
        name: mid
        dataset: {kind: echo, train: LENGTH, validation: 12}
        model: {layers: [{type: rnn, units: 8}, {type: dense}]}
        training: {epochs: 1, batch: 4, tau_max: 4, tau_b: 1, clip_norm: 1, optimizer: {name: adam, lr: 0.01}}
        sweep:
          training.algorithm: [bptt, rtrl, uoro, snap1]
          training.precision: [float32, float64]

        """

    /// Each run's checkpoint (nil: none, or unreadable).
    static func checkpoints(_ results: String) -> [String: Checkpoint] {
        let runs = "\(results)/mid/runs"
        var out: [String: Checkpoint] = [:]
        for id in (try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? [] {
            guard let data = FileManager.default.contents(atPath: "\(runs)/\(id)/checkpoint/state.safetensors"),
                  let c = try? Checkpoint.decode(data, metric: .none).get() else { continue }
            out[id] = c
        }
        return out
    }

    /// The uninterrupted sweep's losses and weights, per stream length (shared by the signals).
    nonisolated(unsafe) static var references: [Int: [String: String]] = [:]

    static func reference(_ yaml: String, length: Int) throws -> [String: String] {
        if let r = references[length] { return r }
        let dir = scratchDirectory("mid-ref")
        writeFile("\(dir)/s.yaml", yaml)
        let run = try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(dir)/ref", "--quiet", "--no-report", "--jobs", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        references[length] = lossesAndWeights("\(dir)/ref", "mid")
        return references[length] ?? [:]
    }

    /// The sweep (bptt, rtrl, uoro, snap1 × float32, float64 on an echo stream of one epoch, all
    /// eight runs at once) is signalled once every run has written a checkpoint inside its epoch —
    /// an event, not a time. SIGINT, SIGTERM and SIGUSR1 stop it with every run checkpointed
    /// inside its epoch; SIGKILL leaves the checkpoints written inside the epoch. The sweep run
    /// again ends bit-identical to an uninterrupted one. Should a run have finished first (a very
    /// fast machine), the attempt is repeated with a longer stream.
    @Test(arguments: [SIGINT, SIGTERM, SIGUSR1, SIGKILL])
    func signalledSweepStopsInsideEpochsAndContinues(_ signal: Int32) throws {
        var length = 24_000, verified = false
        for _ in 0..<4 where !verified {
            let dir = scratchDirectory("mid-\(signal)")
            let yaml = Self.sweep.replacingOccurrences(of: "LENGTH", with: String(length))
            writeFile("\(dir)/s.yaml", yaml)
            defer { length *= 3 }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binaryPath)
            p.arguments = ["run", "\(dir)/s.yaml", "--results", "\(dir)/r", "--jobs", "8", "--quiet", "--no-report",
                           "--checkpoint-interval", "0.05", "--checkpoint-cost-factor", "0"]
            p.standardError = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let allInside = waitWhileRunning(p) {
                let c = Self.checkpoints("\(dir)/r")
                return c.count == 8 && c.values.allSatisfy { $0.batch != nil }
            }
            guard allInside else {
                p.waitUntilExit()
                print("signal \(signal): the sweep ended before every run checkpointed inside an epoch; a longer stream")
                continue
            }
            let sent = Date()
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            let latency = Date().timeIntervalSince(sent)
            if signal == SIGKILL {
                #expect(p.terminationReason == .uncaughtSignal)
            } else {
                #expect(p.terminationStatus == 128 + signal)
                print("signal \(signal): the sweep of 8 runs exited \(String(format: "%.2f", latency)) s after it")
            }
            let left = Self.checkpoints("\(dir)/r")
            verified = left.count == 8 && left.values.allSatisfy { $0.batch != nil }
            let again = try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(dir)/r", "--quiet", "--no-report", "--jobs", "2"])
            #expect(again.status == 0, "\(again.stderr)")
            let got = lossesAndWeights("\(dir)/r", "mid"), want = try Self.reference(yaml, length: length)
            #expect(got.count == 8 && got == want)
        }
        #expect(verified, "signal \(signal) never stopped every run inside an epoch")
    }
}
