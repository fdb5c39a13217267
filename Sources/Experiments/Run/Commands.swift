import Foundation
import RNNCore
import RNNDatasets

/// What each `rnn-exp` command does, as functions the thin CLI calls. Each returns the process
/// exit status: 0 success, 1 runs failed or diverged (or a check failed), 2 bad input.
public enum Commands {
    static func printError(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    /// Version line: the tool and the BLAS kernels in use.
    public static var versionText: String {
        "rnn-exp \(RNNExpVersion.string) (BLAS: \(BLASRuntime.libraryName), core \(BLASRuntime.coreName))"
    }

    static func plans(_ files: [String], overrides: [String]) -> [ExperimentPlan]? {
        switch Planner.plan(files: files, overrides: overrides) {
        case .success(let p): return p
        case .failure(let e):
            for error in e.errors { printError(error.description) }
            printError("\(e.errors.count) error\(e.errors.count == 1 ? "" : "s"); nothing was run or written.")
            return nil
        }
    }

    static func warnSkipped(_ plans: [ExperimentPlan]) {
        for p in plans where !p.skipped.isEmpty {
            printError("warning: \(p.file): \(p.skipped.count) grid point\(p.skipped.count == 1 ? "" : "s") skipped (tau_b > tau_max): "
                       + p.skipped.map(\.label).joined(separator: "; "))
        }
    }

    // MARK: validate

    public static func validate(files: [String], overrides: [String]) -> Int32 {
        guard let plans = plans(files, overrides: overrides) else { return 2 }
        warnSkipped(plans)
        for p in plans {
            print("\(p.file): ok, \(p.runs.count) run\(p.runs.count == 1 ? "" : "s")"
                  + (p.skipped.isEmpty ? "" : ", \(p.skipped.count) skipped"))
        }
        return 0
    }

    // MARK: plan

    public static func plan(files: [String], overrides: [String], results: String, shard: (Int, Int)?) -> Int32 {
        guard let plans = plans(files, overrides: overrides) else { return 2 }
        let store = ResultsStore(root: results)
        let runner = Runner(plans: plans, store: store, options: .init(jobs: 1, shard: shard))
        let selected = Set(runner.selectedRuns().map { "\($0.plan.name)/\($0.run.id)" })
        for p in plans {
            let grid = p.runs.count + p.skipped.count
            print("\(p.name) (\(p.file))")
            if !p.description.isEmpty { print("  \(p.description)") }
            print("  grid: \(grid) point\(grid == 1 ? "" : "s")" + (p.sweptKeys.isEmpty ? "" : " over \(p.sweptKeys.joined(separator: ", "))")
                  + "; \(p.runs.count) to train, \(p.skipped.count) skipped")
            for r in p.runs where selected.contains("\(p.name)/\(r.id)") {
                let state: String
                switch store.status(p.name, r.id) {
                case nil: state = "to run"
                case .some(let s):
                    state = store.isFinished(p.name, r) ? s.fileText.trimmingCharacters(in: .whitespacesAndNewlines)
                        : (s == .done ? "to run (config changed)" : "to run (was \(s.word))")
                }
                print("  \(r.id)  \(state)")
            }
            for s in p.skipped { print("  \(s.label)  skipped-invalid: \(s.reason)") }
        }
        return 0
    }

    // MARK: run

    public struct RunOptions: Sendable {
        public var files: [String]
        public var overrides: [String]
        public var results: String
        public var jobs: Int
        public var force: Bool
        public var quiet: Bool
        public var shard: (Int, Int)?
        public var report: Bool
        public init(files: [String], overrides: [String], results: String, jobs: Int, force: Bool, quiet: Bool,
                    shard: (Int, Int)?, report: Bool = true) {
            self.files = files; self.overrides = overrides; self.results = results
            self.jobs = jobs; self.force = force; self.quiet = quiet; self.shard = shard; self.report = report
        }
    }

    public static func run(_ o: RunOptions) -> Int32 {
        guard let plans = plans(o.files, overrides: o.overrides) else { return 2 }
        warnSkipped(plans)
        // The results folder must be writable before anything trains.
        do {
            try AtomicFile.makeDirectory(o.results)
            try AtomicFile.write("", to: "\(o.results)/.rnn-exp-write-test")
            unlink("\(o.results)/.rnn-exp-write-test")
        } catch {
            printError("error: --results \(o.results): \(error.reason); nothing was run")
            return 2
        }
        let store = ResultsStore(root: o.results)
        let runner = Runner(plans: plans, store: store,
                            options: .init(jobs: o.jobs, force: o.force, mode: ProgressReporter.defaultMode(quiet: o.quiet),
                                           shard: o.shard.map { (index: $0.0, count: $0.1) }))
        let signals = SignalTrap { signal in
            printError("\n\(signal == SIGINT ? "interrupted" : "terminated"): stopping after the current batch of each run (again to quit now)")
            runner.requestStop()
        }
        let report = runner.run()
        let caught = signals.caught
        signals.release()
        printSummary(report, plans: plans, store: store, interrupted: caught != nil)
        if o.report && caught == nil && o.shard == nil { writeReports(plans, store: store) }
        if let s = caught { return 128 + s }
        return report.exitCode
    }

    static func printSummary(_ r: Runner.Report, plans: [ExperimentPlan], store: ResultsStore, interrupted: Bool) {
        var line = "\(r.trained) trained, \(r.alreadyDone) already done"
        if r.busyElsewhere > 0 { line += ", \(r.busyElsewhere) being run by another process" }
        if !r.interrupted.isEmpty { line += ", \(r.interrupted.count) interrupted" }
        printError(line + ".")
        if !r.problems.isEmpty {
            printError("runs that did not finish cleanly:")
            for p in r.problems.sorted(by: { $0.id < $1.id }) {
                printError("  \(p.id)  \(p.status.fileText.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        if interrupted || !r.interrupted.isEmpty {
            printError("finished runs are kept; \(r.interrupted.count) interrupted run\(r.interrupted.count == 1 ? "" : "s") and any not started will run with the same command:")
            for id in r.interrupted { printError("  \(id)") }
        }
        for e in r.writeErrors { printError("error: \(e)") }
        for p in plans { printError("results: \(store.experimentDirectory(p.name))/summary.csv") }
    }

    static func writeReports(_ plans: [ExperimentPlan], store: ResultsStore) {
        for p in plans {
            do {
                let path = try ReportWriter(directory: store.experimentDirectory(p.name)).write()
                printError("report: \(path)")
            } catch {
                printError("warning: no report for \(p.name): \(error)")
            }
        }
    }

    // MARK: report

    public static func report(directory: String, options: ReportWriter.Options) -> Int32 {
        do {
            print(try ReportWriter(directory: directory, options: options).write())
            return 0
        } catch {
            printError("error: \(error)")
            return 2
        }
    }

    // MARK: gradcheck

    public static func gradcheck(file: String, overrides: [String]) -> Int32 {
        guard let plans = plans([file], overrides: overrides), let plan = plans.first, let run = plan.runs.first else { return 2 }
        var config = run.config
        config.precision = .float64
        let dataset: Dataset
        do { dataset = try plan.datasetCache.dataset(config.dataset, seed: UInt64(config.seed)) } catch {
            printError(error.description)
            return 2
        }
        let spec = config.networkSpec
        var parameters = spec.initialParameters(seed: UInt64(config.seed))
        if let path = config.initFrom, let data = FileManager.default.contents(atPath: path),
           case .success(let p) = Safetensors.decode(data, spec: spec) {
            parameters = p
        }
        let batches: [SequenceBatch<Double>] = Batcher.batches(dataset.train, layout: dataset.layout, batch: config.batch,
                                                               shuffle: false, seed: UInt64(config.seed), epoch: 0,
                                                               inputSize: dataset.inputSize, outputSize: spec.outputs)
        guard let batch = batches.first,
              let report = GradientCheck.run(spec: spec, parameters: parameters, batch: batch, truncation: config.truncation) else {
            printError("\(file): the first batch has no update with a target")
            return 2
        }
        print("\(run.id): first update at step \(report.step), errors injected at (\(report.previousStep), \(report.step)], window from step \(report.windowStart), float64")
        let nameWidth = max(report.tensors.map(\.name.count).max() ?? 4, 9)
        print("parameter".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  worst rel. error  index   BPTT                   finite difference")
        for t in report.tensors {
            let cells = [t.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0),
                         String(format: "%.3e", t.worstError).padding(toLength: 16, withPad: " ", startingAt: 0),
                         String(t.worstIndex).padding(toLength: 6, withPad: " ", startingAt: 0),
                         String(format: "% .15e", t.analytic), String(format: "% .15e", t.numeric)]
            print(cells.joined(separator: "  ") + (t.checked < t.count ? "  (\(t.checked) of \(t.count) checked)" : ""))
        }
        let ok = report.worstError <= 1e-6
        print(ok ? "ok: worst relative error \(String(format: "%.3e", report.worstError)) <= 1e-6"
                 : "FAILED: worst relative error \(String(format: "%.3e", report.worstError)) > 1e-6")
        return ok ? 0 : 1
    }
}

extension Commands {
    /// BLAS against the naive kernel, under the kernel set this process uses.
    public static func checkBLAS() -> Int32 {
        let (f32, f64) = BLASSelfTest.run()
        let ok = f32 <= 1e-6 && f64 <= 1e-15
        print("\(BLASEnvironment.description)")
        print("worst |BLAS - naive| / k: float32 \(f32), float64 \(f64): \(ok ? "ok" : "FAILED")")
        return ok ? 0 : 1
    }
}

public enum RNNExpVersion {
    public static let string = "0.1.0"
}

/// Catches SIGINT and SIGTERM while a sweep runs: the first asks for a clean stop, a second one
/// exits at once.
final class SignalTrap: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var first: Int32? = nil

    init(_ onFirst: @escaping @Sendable (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock()
                let again = self.first != nil
                if !again { self.first = sig }
                self.lock.unlock()
                if again { exit(128 + sig) }
                onFirst(sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    var caught: Int32? {
        lock.lock(); defer { lock.unlock() }
        return first
    }

    func release() {
        for s in sources { s.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

// MARK: - slurm, summarize

extension Commands {
    public struct SlurmOptions: Sendable {
        public var files: [String]
        public var overrides: [String]
        public var results: String
        public var tasks: Int?
        public var parallel: Int?
        public var time: String?
        public var cpusPerTask: Int
        public var partition: String?
        public var output: String
        public var sbatchArguments: [String]
        public var submit: Bool
        public init(files: [String], overrides: [String], results: String, tasks: Int?, parallel: Int?, time: String?,
                    cpusPerTask: Int, partition: String?, output: String, sbatchArguments: [String], submit: Bool) {
            self.files = files; self.overrides = overrides; self.results = results; self.tasks = tasks
            self.parallel = parallel; self.time = time; self.cpusPerTask = cpusPerTask; self.partition = partition
            self.output = output; self.sbatchArguments = sbatchArguments; self.submit = submit
        }
    }

    /// The path of the running executable (what the cluster's nodes will run).
    static var executablePath: String {
        #if os(Linux)
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        #endif
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    public static func slurm(_ o: SlurmOptions) -> Int32 {
        guard let plans = plans(o.files, overrides: o.overrides) else { return 2 }
        warnSkipped(plans)
        let runs = plans.reduce(0) { $0 + $1.runs.count }
        let tasks = o.tasks ?? min(runs, 16)
        guard tasks >= 1, o.cpusPerTask >= 1, (o.parallel ?? 1) >= 1 else {
            printError("error: --tasks, --parallel and --cpus-per-task must be at least 1")
            return 2
        }
        if let t = o.time, t.range(of: #"^(\d+-)?\d{1,2}(:\d{2}){0,2}$"#, options: .regularExpression) == nil {
            printError("error: --time \(t): expected a Slurm time such as 30:00, 2:00:00 or 1-12:00:00")
            return 2
        }
        let script = SlurmScript(files: o.files, overrides: o.overrides, results: o.results, tasks: tasks,
                                 parallel: o.parallel, time: o.time, cpusPerTask: o.cpusPerTask, partition: o.partition,
                                 output: o.output, extraArguments: o.sbatchArguments, binary: executablePath,
                                 workingDirectory: FileManager.default.currentDirectoryPath,
                                 name: plans.map(\.name).joined(separator: "+"))
        do {
            try AtomicFile.makeDirectory("\(o.output)/logs")
            try AtomicFile.write(script.arrayScript, to: script.arrayPath)
            try AtomicFile.write(script.summaryScript, to: script.summaryPath)
            chmod(script.arrayPath, 0o755)
            chmod(script.summaryPath, 0o755)
        } catch {
            printError("error: \(error)")
            return 2
        }
        print("wrote \(script.arrayPath) (\(runs) run\(runs == 1 ? "" : "s") in \(tasks) array task\(tasks == 1 ? "" : "s"))")
        print("wrote \(script.summaryPath) (regenerates the summaries after every task)")
        guard o.submit else {
            print("submit with:\n  \(script.submitCommands)")
            return 0
        }
        func sbatch(_ args: [String]) -> String? {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["sbatch", "--parsable"] + args
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            do { try p.run() } catch { printError("error: cannot run sbatch: \(error)"); return nil }
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { printError("error: sbatch failed: \(errText)"); return nil }
            return text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init)
        }
        guard let array = sbatch([script.arrayPath]) else { return 1 }
        guard let summary = sbatch(["--dependency=afterany:\(array)", script.summaryPath]) else { return 1 }
        print("submitted array job \(array) and summary job \(summary)")
        return 0
    }

    /// Regenerates `summary.csv` and `metrics.csv` of every experiment from its runs' files.
    public static func summarize(files: [String], overrides: [String], results: String) -> Int32 {
        guard let plans = plans(files, overrides: overrides) else { return 2 }
        let store = ResultsStore(root: results)
        var code: Int32 = 0
        for p in plans {
            do {
                try store.writeSummaries(p)
                let done = p.runs.filter { store.status(p.name, $0.id) == .done }.count
                print("\(store.experimentDirectory(p.name))/summary.csv: \(done) of \(p.runs.count) runs done")
                print(try ReportWriter(directory: store.experimentDirectory(p.name)).write())
            } catch {
                printError("error: \(error)")
                code = 1
            }
        }
        return code
    }
}
