import Foundation
import RNNCore
import RNNDatasets

/// The results folder of SPEC section 6, and the only code that writes into it.
///
/// ```
/// <root>/<name>/summary.csv, metrics.csv
/// <root>/<name>/runs/<id>/config.yaml, metrics.csv, initial.safetensors, final.safetensors, baseline, status
/// ```
/// Every file is written atomically (temporary file, fsync, rename); `status` is written last, and
/// removed first when a run starts over, so a run is `done` only when all its files are complete.
/// `summary.csv` and the top-level `metrics.csv` are regenerated from the per-run files under an
/// exclusive lock, so concurrent runners never interleave them.
public struct ResultsStore: Sendable {
    public let root: String
    /// Every file of the store goes through it.
    let writer: any ResultsFileWriter

    public init(root: String, writer: any ResultsFileWriter = AtomicFileWriter()) {
        self.root = root
        self.writer = writer
    }

    public func experimentDirectory(_ name: String) -> String { "\(root)/\(name)" }
    public func runDirectory(_ name: String, _ id: String) -> String { "\(root)/\(name)/runs/\(id)" }

    public func status(_ name: String, _ id: String) -> RunStatus? {
        guard let data = FileManager.default.contents(atPath: "\(runDirectory(name, id))/status") else { return nil }
        return RunStatus.parse(String(decoding: data, as: UTF8.self))
    }

    /// A run is finished when its status is `done` (or `diverged`, a result too) and its
    /// `config.yaml` is the same resolved configuration.
    public func isFinished(_ name: String, _ run: PlannedRun) -> Bool {
        guard let s = status(name, run.id) else { return false }
        switch s {
        case .done, .diverged: break
        case .failed, .interrupted: return false
        }
        guard let data = FileManager.default.contents(atPath: "\(runDirectory(name, run.id))/config.yaml") else { return false }
        return String(decoding: data, as: UTF8.self) == run.canonical
    }

    /// Where a planned run stands, for `rnn-exp plan`.
    public enum RunState: Sendable, Equatable {
        /// No status yet.
        case toRun
        /// Finished (`done` or `diverged`) with the same resolved configuration.
        case finished(RunStatus)
        /// Finished, but with another configuration: it trains again.
        case configChanged
        /// Failed or interrupted earlier: it trains again.
        case retry(RunStatus)
    }

    public func state(_ name: String, _ run: PlannedRun) -> RunState {
        guard let s = status(name, run.id) else { return .toRun }
        if isFinished(name, run) { return .finished(s) }
        return s == .done ? .configChanged : .retry(s)
    }

    /// Checks that the results folder can be written before anything trains (creates it).
    public func checkWritable() throws(WriteError) {
        try AtomicFile.makeDirectory(root)
        let probe = "\(root)/.rnn-exp-write-test"
        try writer.write("", to: probe)
        unlink(probe)
    }

    /// Claims a run for this process (nil when another runner holds it).
    public func claim(_ name: String, _ id: String) throws(WriteError) -> FileLock? {
        let dir = runDirectory(name, id)
        try AtomicFile.makeDirectory(dir)
        return try FileLock.tryLock("\(dir)/.lock")
    }

    /// Starts a run over: its old status goes first, then the configuration is written.
    public func begin(_ name: String, _ run: PlannedRun) throws(WriteError) {
        let dir = runDirectory(name, run.id)
        try AtomicFile.makeDirectory(dir)
        AtomicFile.removeStaleTemporaries(in: dir)
        let statusPath = "\(dir)/status"
        if unlink(statusPath) != 0 && errno != ENOENT {
            throw WriteError(path: statusPath, reason: String(cString: strerror(errno)))
        }
        try writer.write(run.canonical, to: "\(dir)/config.yaml")
    }

    public func writeMetrics(_ name: String, _ id: String, records: [EpochRecord], metric: MetricKind) throws(WriteError) {
        try writer.write(Self.metricsCSV(records, metric: metric), to: "\(runDirectory(name, id))/metrics.csv")
    }

    /// Writes the weights and metrics of a finished run, then its status (last).
    public func finish(_ name: String, _ run: PlannedRun, _ outcome: RunOutcome) throws(WriteError) {
        let dir = runDirectory(name, run.id)
        try writeMetrics(name, run.id, records: outcome.records, metric: run.config.metric)
        if !outcome.initialParameters.isEmpty {
            let meta = ["run": run.id, "precision": run.config.precision.rawValue]
            try writer.write(Safetensors.encode(outcome.initialParameters, spec: outcome.spec,
                                                    precision: run.config.precision, metadata: meta),
                                 to: "\(dir)/initial.safetensors")
            try writer.write(Safetensors.encode(outcome.finalParameters, spec: outcome.spec,
                                                    precision: run.config.precision, metadata: meta),
                                 to: "\(dir)/final.safetensors")
        }
        let environment = "rnn-exp \(RNNExpVersion.string)\nblas: \(BLASEnvironment.description)\nhost: \(ProcessInfo.processInfo.hostName)\n"
        try writer.write(environment, to: "\(dir)/environment")
        if let b = outcome.baseline {
            try writer.write("\(NumberText.format(b.loss))\n# \(b.description)\n", to: "\(dir)/baseline")
        }
        try writer.write(outcome.status.fileText, to: "\(dir)/status")
    }

    // MARK: CSV

    static let epochColumns = ["epoch", "updates", "train_loss", "val_loss"]

    static func metricsHeader(_ metric: MetricKind) -> [String] {
        epochColumns + (metric.columnName.map { [$0] } ?? []) + ["grad_norm", "wall_s", "sample_steps_per_s"]
    }

    static func metricsFields(_ r: EpochRecord, metric: MetricKind) -> [String] {
        var f = [String(r.epoch), String(r.updates), NumberText.format(r.trainLoss), NumberText.format(r.valLoss)]
        if metric.columnName != nil { f.append(NumberText.format(r.metric)) }
        f += [NumberText.format(r.gradNorm), NumberText.format(r.wallSeconds), NumberText.format(r.sampleStepsPerSecond)]
        return f
    }

    static func metricsCSV(_ records: [EpochRecord], metric: MetricKind) -> String {
        var w = CSVWriter(header: metricsHeader(metric))
        for r in records { w.append(metricsFields(r, metric: metric)) }
        return w.text
    }

    /// Reads a run's `metrics.csv` back as rows of (column → text).
    func readMetrics(_ name: String, _ id: String) -> [[String: String]] {
        let path = "\(runDirectory(name, id))/metrics.csv"
        guard let data = FileManager.default.contents(atPath: path),
              let table = try? CSVTable.parse(data, file: path) else { return [] }
        return table.rows.map { Dictionary(uniqueKeysWithValues: zip(table.header, $0)) }
    }

    // MARK: Summaries

    /// Regenerates `summary.csv` and the top-level `metrics.csv` of an experiment from its runs'
    /// files, atomically and under the experiment's lock.
    public func writeSummaries(_ plan: ExperimentPlan) throws(WriteError) {
        let dir = experimentDirectory(plan.name)
        try AtomicFile.makeDirectory(dir)
        let lock = try FileLock.lock("\(dir)/.summary.lock")
        defer { lock.unlock() }
        AtomicFile.removeStaleTemporaries(in: dir)
        let metric = plan.runs.first?.config.metric ?? .none
        let metricName = metric.columnName.map { "final_\($0)" }
        var summary = CSVWriter(header: ["run", "status"] + plan.sweptKeys
            + ["dataset", "layers", "tau_max", "tau_b", "batch", "optimizer", "lr", "seed",
               "epochs", "updates", "final_train_loss", "final_val_loss", "best_val_loss", "best_epoch"]
            + (metricName.map { [$0] } ?? []) + ["wall_s", "sample_steps_per_s", "baseline_loss"])
        var long = CSVWriter(header: ["run", "status"] + plan.sweptKeys + Self.metricsHeader(metric))
        for run in plan.runs {
            guard let status = status(plan.name, run.id) else { continue }
            let rows = readMetrics(plan.name, run.id)
            let c = run.config
            let swept = run.swept.map(\.text)
            for r in rows {
                long.append([run.id, status.word] + swept + Self.metricsHeader(metric).map { r[$0] ?? "" })
            }
            let last = rows.last
            var best: (Double, String)? = nil
            for r in rows {
                if let v = r["val_loss"].flatMap(Double.init), v.isFinite, best == nil || v < best!.0 { best = (v, r["epoch"] ?? "") }
            }
            let speeds = rows.dropFirst().compactMap { $0["sample_steps_per_s"].flatMap(Double.init) }
            let baseline = FileManager.default.contents(atPath: "\(runDirectory(plan.name, run.id))/baseline")
                .flatMap { String(decoding: $0, as: UTF8.self).split(separator: "\n").first.map(String.init) } ?? ""
            var fields = [run.id, status.word] + swept
            fields += [c.dataset.kind.rawValue, c.layersText, c.tauMaxText, c.tauBText, String(c.batch),
                       c.optimizer.name.rawValue, NumberText.format(c.optimizer.lr), String(c.seed),
                       last?["epoch"] ?? "", last?["updates"] ?? "", last?["train_loss"] ?? "", last?["val_loss"] ?? "",
                       best.map { NumberText.format($0.0) } ?? "", best?.1 ?? ""]
            if let m = metric.columnName { fields.append(last?[m] ?? "") }
            fields += [last?["wall_s"] ?? "",
                       speeds.isEmpty ? "" : NumberText.format(speeds.reduce(0, +) / Double(speeds.count)), baseline]
            summary.append(fields)
        }
        try writer.write(summary.text, to: "\(dir)/summary.csv")
        try writer.write(long.text, to: "\(dir)/metrics.csv")
        try writer.write(Self.experimentJSON(plan), to: "\(dir)/experiment.json")
    }

    /// What the report needs to know about the grid beyond the CSVs: description, swept values in
    /// sweep order, and the points skipped as invalid.
    static func experimentJSON(_ plan: ExperimentPlan) -> Data {
        var sweepValues: [String: [String]] = [:]
        for key in plan.sweptKeys { sweepValues[key] = [] }
        for run in plan.runs {
            for (k, v) in run.swept where !(sweepValues[k]?.contains(v) ?? true) { sweepValues[k]?.append(v) }
        }
        for s in plan.skipped {
            for (k, v) in s.values where !(sweepValues[k]?.contains(v) ?? true) { sweepValues[k]?.append(v) }
        }
        let object: [String: Any] = [
            "name": plan.name, "description": plan.description, "file": plan.file,
            "swept_keys": plan.sweptKeys, "sweep_values": sweepValues,
            "grid_size": plan.runs.count + plan.skipped.count, "runs": plan.runs.count,
            "metric": plan.runs.first?.config.metric.columnName ?? "",
            "skipped": plan.skipped.map { s in
                ["label": s.label, "reason": s.reason,
                 "values": Dictionary(s.values.map { ($0.key, $0.text) }, uniquingKeysWith: { a, _ in a })] as [String: Any]
            },
        ]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    }
}
