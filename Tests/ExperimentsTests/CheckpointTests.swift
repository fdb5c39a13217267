import Foundation
import Testing
@testable import Experiments
import RNNCore
import RNNTestSupport

/// Issue 15: checkpoints. A run stopped anywhere and continued from its checkpoint ends bit for
/// bit where an uninterrupted run ends: weights, optimizer state and every metrics row (timing
/// columns aside).
@Suite("Checkpoints", .serialized)
struct CheckpointTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let yaml: String
        var testDescription: String { id }
    }

    /// A sequence dataset and a stream dataset; Adam with weight decay and clipping; both precisions.
    static let cases: [Case] = ["float32", "float64"].flatMap { precision in [
        Case(id: "adding (sequences), \(precision)", yaml: """
            name: ck
            dataset: {kind: adding, length: 8, train: 40, validation: 8}
            model: {layers: [{type: rnn, units: 6}, {type: dense, activation: identity}]}
            training: {epochs: 4, batch: 4, tau_max: 5, tau_b: 2, clip_norm: 0.5, precision: \(precision),
                       optimizer: {name: adam, lr: 0.02, weight_decay: 0.01}}

            """),
        Case(id: "sine (stream), \(precision)", yaml: """
            name: ck
            dataset: {kind: sine, train: 400, validation: 50}
            model: {layers: [{type: rnn, units: 6}, {type: dense, activation: identity}]}
            training: {epochs: 4, batch: 4, tau_max: 6, clip_norm: 0.5, precision: \(precision),
                       optimizer: {name: adam, lr: 0.02, weight_decay: 0.01}}

            """),
        Case(id: "adding with gradient diagnostics, \(precision)", yaml: """
            name: ck
            dataset: {kind: adding, length: 8, train: 40, validation: 8}
            model: {layers: [{type: rnn, units: 6}, {type: dense, activation: identity}]}
            training: {epochs: 4, batch: 4, tau_max: 3, tau_b: 2, clip_norm: 0.5, precision: \(precision),
                       optimizer: {name: adam, lr: 0.02, weight_decay: 0.01}}
            diagnostics: {gradient_every: 3, credit_lags: 6}

            """),
        // Issue 22: the online algorithms (SPEC 3.3). UORO's noise is a pure function of (seed,
        // epoch, batch, lane, step), so a continued run needs no generator state.
        Case(id: "uoro on adding, tau_b 2, \(precision)", yaml: """
            name: ck
            dataset: {kind: adding, length: 8, train: 40, validation: 8}
            model: {layers: [{type: rnn, units: 6}, {type: dense, activation: identity}]}
            training: {epochs: 4, batch: 4, algorithm: uoro, tau_b: 2, clip_norm: 0.5, precision: \(precision),
                       optimizer: {name: adam, lr: 0.02, weight_decay: 0.01}}

            """),
        Case(id: "rtrl on sine (stream), \(precision)", yaml: """
            name: ck
            dataset: {kind: sine, train: 400, validation: 50}
            model: {layers: [{type: rnn, units: 5}, {type: dense, activation: identity}]}
            training: {epochs: 4, batch: 4, algorithm: rtrl, clip_norm: 0.5, precision: \(precision),
                       optimizer: {name: adam, lr: 0.02}}

            """),
        Case(id: "rflo (decay 0.3) with diagnostics, \(precision)", yaml: """
            name: ck
            dataset: {kind: adding, length: 8, train: 40, validation: 8}
            model: {layers: [{type: rnn, units: 6}, {type: dense, activation: identity}]}
            training: {epochs: 4, batch: 4, algorithm: rflo, rflo_decay: 0.3, precision: \(precision),
                       optimizer: {name: sgd, lr: 0.05, momentum: 0.9}}
            diagnostics: {gradient_every: 3, credit_lags: 4}

            """),
        Case(id: "snap1 on gru, \(precision)", yaml: """
            name: ck
            dataset: {kind: adding, length: 8, train: 40, validation: 8}
            model: {layers: [{type: gru, units: 4}, {type: dense, activation: identity}]}
            training: {epochs: 4, batch: 4, algorithm: snap1, tau_b: 3, precision: \(precision),
                       optimizer: {name: rmsprop, lr: 0.01}}

            """),
    ] }

    static func plan(_ c: Case) throws -> (ExperimentPlan, PlannedRun) {
        let dir = scratchDirectory("ck")
        writeFile("\(dir)/ck.yaml", c.yaml)
        let plan = try Planner.plan(files: ["\(dir)/ck.yaml"]).get()[0]
        return (plan, plan.runs[0])
    }

    /// Metrics rows without the timing columns, and the final weights.
    static func fingerprint(_ o: RunOutcome, metric: MetricKind) -> [String] {
        o.records.map { r in
            [String(r.epoch), String(r.updates), NumberText.format(r.trainLoss), NumberText.format(r.valLoss),
             NumberText.format(r.metric), NumberText.format(r.gradNorm), NumberText.format(r.gradCos),
             NumberText.format(r.gradRelBias)].joined(separator: ",")
        } + [o.finalParameters.map { String($0.bitPattern, radix: 16) }.joined(separator: ","),
             ResultsStore.csv(o.gradientRows, GradientRow.columns), ResultsStore.csv(o.creditRows, CreditRow.columns)]
    }

    /// Diagnostics never change training (SPEC 3.1): the same run with and without them ends
    /// with bit-identical weights and losses; with them, it records every sampled update.
    @Test func diagnosticsLeaveTrainingUnchanged() throws {
        let (plan, run) = try Self.plan(Self.cases[2])
        var off = run.config
        off.diagnostics = GradientDiagnostics()
        let with = RunExecutor.execute(run.config, datasets: plan.datasets)
        let without = RunExecutor.execute(off, datasets: plan.datasets)
        #expect(with.finalParameters == without.finalParameters)
        #expect(with.records.map(\.trainLoss) == without.records.map(\.trainLoss))
        #expect(with.records.map(\.valLoss) == without.records.map(\.valLoss))
        // adding has one target, at the last step: one update per batch of 4 of the 40 sequences,
        // 40 over 4 epochs; sampled 1, 4, …, 40: 14, each as `all` + 5 tensors (W_s, W_t, b; W_s, b).
        #expect(with.gradientRows.filter { $0.parameter == "all" }.map(\.update) == Array(stride(from: 1, through: 40, by: 3)))
        #expect(with.gradientRows.count == 14 * 6)
        #expect(with.records.dropFirst().allSatisfy { $0.gradCos != nil && $0.gradRelBias != nil })
        #expect(Set(with.creditRows.map(\.lag)) == Set(0...6) && Set(with.creditRows.map(\.epoch)) == Set(1...4))
        #expect(without.gradientRows.isEmpty && without.creditRows.isEmpty)
    }

    /// Stop after every possible number of batches (mid-epoch and at epoch boundaries), go through
    /// the checkpoint's bytes, continue: the same run, bit for bit.
    @Test(arguments: cases)
    func continuedRunsEqualUninterruptedOnes(_ c: Case) throws {
        let (plan, run) = try Self.plan(c)
        let metric = run.config.metric
        let reference = RunExecutor.execute(run.config, datasets: plan.datasets)
        #expect(reference.status == .done)
        let expected = Self.fingerprint(reference, metric: metric)
        let batchesPerEpoch = run.config.layout == .stream ? 1 : 10
        var stops = 0
        for stopAfter in stride(from: 1, through: run.config.epochs * batchesPerEpoch, by: batchesPerEpoch == 1 ? 1 : 3) {
            var polls = 0, saved: Checkpoint? = nil
            let first = RunExecutor.execute(run.config, datasets: plan.datasets,
                                            shouldStop: { polls += 1; return polls > stopAfter },
                                            checkpoint: { saved = $0 })
            guard first.status == .interrupted else { continue }
            stops += 1
            var stamped = try #require(saved, "no checkpoint at the stop after \(stopAfter) batches")
            stamped.canonicalConfig = run.canonical
            // Through the file format, as a restarted process would read it.
            let decoded = try Checkpoint.decode(stamped.encoded(metric: metric), metric: metric).get()
            #expect(decoded == stamped)
            let second = RunExecutor.execute(run.config, datasets: plan.datasets, resume: decoded)
            #expect(second.status == .done)
            #expect(Self.fingerprint(second, metric: metric) == expected, "stopped after \(stopAfter) batches")
            #expect(second.initialParameters == reference.initialParameters)
        }
        #expect(stops >= 2, "the test never stopped the run")
    }

    /// A damaged checkpoint is reported and the run starts over; one of another configuration is
    /// ignored. Neither crashes the sweep, and both end at the uninterrupted result.
    @Test func damagedOrForeignCheckpointsStartOver() throws {
        let c = Self.cases[0]
        let (plan, run) = try Self.plan(c)
        let dir = scratchDirectory("ck-damaged")
        let reference = ResultsStore(root: "\(dir)/ref")
        #expect(Runner(plans: [plan], store: reference, options: .init(jobs: 1)).run().allDone)

        for damage in ["truncated", "garbage", "other config"] {
            let store = ResultsStore(root: "\(dir)/\(damage)")
            var polls = 0
            _ = RunExecutor.execute(run.config, datasets: plan.datasets, shouldStop: { polls += 1; return polls > 7 },
                                    checkpoint: { try? store.saveCheckpoint(plan.name, run, $0) })
            let path = store.checkpointPath(plan.name, run.id)
            let bytes = try #require(FileManager.default.contents(atPath: path))
            switch damage {
            case "truncated": try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
            case "garbage": try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: path))
            default:
                var foreign = try Checkpoint.decode(bytes, metric: run.config.metric).get()
                foreign.canonicalConfig = "name: another\n"
                try foreign.encoded(metric: run.config.metric).write(to: URL(fileURLWithPath: path))
            }
            let report = Runner(plans: [plan], store: store, options: .init(jobs: 1)).run()
            #expect(report.allDone, "\(damage)")
            if damage == "other config" {
                #expect(report.warnings.isEmpty, "\(report.warnings)")
            } else {
                #expect(report.warnings.contains { $0.contains("checkpoint unreadable, starting over") }, "\(damage): \(report.warnings)")
            }
            #expect(lossesAndWeights("\(dir)/\(damage)", "ck") == lossesAndWeights("\(dir)/ref", "ck"), "\(damage)")
            #expect(!FileManager.default.fileExists(atPath: path), "\(damage): the checkpoint of a done run stays")
        }
    }

    /// SIGKILL at seeded moments (mid-epoch and between epochs) of a sweep of longer runs, then
    /// restarts until it finishes: the results equal an uninterrupted sweep's, and some restart
    /// really continued from a checkpoint.
    @Test func killedRunsContinueFromTheirCheckpoints() throws {
        let dir = scratchDirectory("ck-kill")
        let yaml = """
            name: ckkill
            dataset: {kind: adding, length: 10, train: 4000, validation: 50}
            model: {layers: [{type: rnn, units: 24}, {type: dense, activation: identity}]}
            training: {epochs: 6, batch: 8, tau_max: 5, clip_norm: 1, optimizer: {name: adam, lr: 0.01, weight_decay: 0.001}}
            sweep:
              training.precision: [float32, float64]

            """
        writeFile("\(dir)/k.yaml", yaml)
        #expect(try rnnExp(["run", "\(dir)/k.yaml", "--results", "\(dir)/ref", "--quiet"]).status == 0)
        var rng = SplitMix64(seed: 15)
        var sawCheckpoint = false, attempts = 0
        while attempts < 30 {
            attempts += 1
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binaryPath)
            p.arguments = ["run", "\(dir)/k.yaml", "--results", "\(dir)/r", "--jobs", "2", "--quiet"]
            p.standardError = FileHandle.nullDevice
            try p.run()
            if attempts == 1 {
                // The first kill waits for the event under test (a checkpoint on disk), not for a
                // time: the restart must continue from it on any machine.
                #expect(waitWhileRunning(p) { someRunHasACheckpoint("\(dir)/r/ckkill/runs") },
                        "the sweep ended before any run wrote a checkpoint")
            } else {
                Thread.sleep(forTimeInterval: 0.1 + rng.unit() * 0.5)
            }
            if p.isRunning && attempts < 12 { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            if someRunHasACheckpoint("\(dir)/r/ckkill/runs") { sawCheckpoint = true }
            if p.terminationReason == .exit && p.terminationStatus == 0 { break }
        }
        #expect(sawCheckpoint, "no kill left a checkpoint behind")
        #expect(lossesAndWeights("\(dir)/r", "ckkill") == lossesAndWeights("\(dir)/ref", "ckkill"))
    }
}

/// Checkpoints of the previous layout (format 1, progress numbers by position) are still read,
/// number for number; the named layout (format 2) round-trips and rejects what it cannot name.
@Suite("Checkpoint layouts")
struct CheckpointLayoutTests {
    static let golden = "\(repositoryRoot)/Tests/ExperimentsTests/Golden/checkpoint-v1"

    /// `Golden/checkpoint-v1/state.safetensors` was written by the pre-change binary (`910f1ed`),
    /// stopped by SIGINT in epoch 1 of `ckv1.yaml` after 75 batches; `final-uninterrupted.safetensors`
    /// is that binary's uninterrupted run. Read now, the checkpoint gives the same numbers, and
    /// the run continued from it ends with those final weights, byte for byte.
    ///
    /// The fixture was written with OpenBLAS's AVX-512 kernels (`SkylakeX`; Zen 4 picks
    /// `Cooperlake`, whose double-precision products are the same), and another kernel set rounds
    /// the float64 products of the continuation differently (this machine kind may set
    /// `OPENBLAS_CORETYPE=Haswell` for the test process). The continuation therefore runs in the
    /// binary with `OPENBLAS_CORETYPE=SkylakeX` where the CPU has AVX-512; without it, the bytes
    /// are not compared (the read side still is).
    @Test func version1CheckpointIsReadAndContinued() throws {
        let dir = scratchDirectory("ck-v1")
        writeFile("\(dir)/ckv1.yaml", try String(contentsOfFile: "\(Self.golden)/ckv1.yaml", encoding: .utf8))
        let plan = try Planner.plan(files: ["\(dir)/ckv1.yaml"]).get()[0]
        let run = plan.runs[0]
        let bytes = try #require(FileManager.default.contents(atPath: "\(Self.golden)/state.safetensors"))
        let c = try Checkpoint.decode(bytes, metric: run.config.metric).get()
        #expect(c.batchesDone == 75 && c.trainer.optimizerStep == 75)
        #expect(c.partial.elements == 300 && c.partial.updates == 75 && c.partial.sampleSteps == 2400)
        #expect(c.partial.lossSum == Double(bitPattern: 0x40514271168b5d67))
        #expect(c.partial.gradNormSum == Double(bitPattern: 0x4057c34092873e11))
        #expect(c.partial.seconds == Double(bitPattern: 0x3fa26b9000000000))
        #expect(c.elapsedSeconds == Double(bitPattern: 0x3fb7e9e400000000))
        #expect(c.records.map(\.epoch) == [0])
        #expect(c.canonicalConfig == run.canonical)

        let store = ResultsStore(root: "\(dir)/r")
        let path = store.checkpointPath(plan.name, run.id)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try bytes.write(to: URL(fileURLWithPath: path))
        guard case .found = store.loadCheckpoint(plan.name, run) else {
            Issue.record("the version-1 checkpoint is not found as this run's")
            return
        }
        let avx512 = BLASEnvironment.chooseCoreType(detected: "", cpuFlags: BLASEnvironment.cpuFlags()) == "SkylakeX"
        let continued = try rnnExp(["run", "\(dir)/ckv1.yaml", "--results", "\(dir)/r", "--jobs", "1", "--quiet"],
                                   environment: avx512 ? ["OPENBLAS_CORETYPE": "SkylakeX"] : [:])
        #expect(continued.status == 0, "\(continued.stdout)\(continued.stderr)")
        let final = FileManager.default.contents(atPath: "\(dir)/r/\(plan.name)/runs/\(run.id)/final.safetensors")
        let expected = FileManager.default.contents(atPath: "\(Self.golden)/final-uninterrupted.safetensors")
        #expect(final != nil)
        if avx512 { #expect(final == expected, "continued from the version-1 checkpoint with the SkylakeX kernels") }
    }

    /// Format 2 writes `name=value` pairs and reads back the same checkpoint; a missing, unknown
    /// or repeated name, or a version-1 list of the wrong length, is damage, never a misread.
    @Test func namedProgressRoundTripsAndRejectsWhatItCannotName() throws {
        let bytes = try #require(FileManager.default.contents(atPath: "\(Self.golden)/state.safetensors"))
        let c = try Checkpoint.decode(bytes, metric: MetricKind.none).get()
        let again = try Checkpoint.decode(c.encoded(metric: MetricKind.none), metric: MetricKind.none).get()
        #expect(again == c)
        #expect(c.progressText.hasPrefix("loss_sum=40514271168b5d67 grad_norm_sum="))
        #expect(c.progressText.hasSuffix("batches_done=75 optimizer_step=75 window_steps=0 longest_window=0"))
        let v2 = Checkpoint.format, v1 = Checkpoint.formatVersion1
        #expect(Checkpoint.progress(c.progressText, format: v2) != nil)
        let words = c.progressText.split(separator: " ").map(String.init)
        // A required name missing is damage; the names added since (window_steps, longest_window:
        // random truncation) may be missing, as in checkpoints written before them.
        #expect(Checkpoint.progress(words.filter { !$0.hasPrefix("optimizer_step=") }.joined(separator: " "), format: v2) == nil)
        let before = words.filter { !$0.hasPrefix("window_steps=") && !$0.hasPrefix("longest_window=") }
        #expect(Checkpoint.progress(before.joined(separator: " "), format: v2) != nil)
        #expect(Checkpoint.progress((words + ["epochs=3"]).joined(separator: " "), format: v2) == nil)
        #expect(Checkpoint.progress((words + [words[0]]).joined(separator: " "), format: v2) == nil)
        #expect(Checkpoint.progress("1 2 3 4 5 6 7 8", format: v1) == nil)
        #expect(Checkpoint.progress(c.progressText, format: v1) == nil)
    }
}
