import Foundation
import RNNCore
import CSV
import RNNDatasets

/// The results folder of SPEC section 6. Everything in it is written here, except `report.html`
/// (`HTMLReport`).
///
/// ```
/// <root>/<name>/summary.csv, metrics.csv, summary-by-setting.csv, experiment.json, report.html
/// <root>/<name>/runs/<id>/config.yaml, metrics.csv, [gradient.csv, credit.csv], initial.safetensors,
///                        final.safetensors, final-state.safetensors (when done), baseline, floor,
///                        environment, status, checkpoint/state.safetensors (while unfinished)
/// ```
/// Every file is written atomically (temporary file, fsync, rename); `status` is written last, and
/// removed first when a run starts over, so a run is `done` only when all its files are complete.
/// `summary.csv` and the top-level `metrics.csv` are regenerated from the per-run files under an
/// exclusive lock, so concurrent runners never interleave them.
public struct ResultsStore: Sendable {
    public let root: String
    /// Every file of the store goes through them.
    let writer: any ResultsFileWriter
    let reader: any ResultsFileReader
    /// Runs already read for a summary, kept while their files are unchanged.
    let cache = StoredRunCache()

    public init(root: String, writer: any ResultsFileWriter = AtomicFileWriter(),
                reader: any ResultsFileReader = FileSystemReader()) {
        self.root = root
        self.writer = writer
        self.reader = reader
    }

    public func experimentDirectory(_ name: String) -> String { "\(root)/\(name)" }
    public func runDirectory(_ name: String, _ id: String) -> String { "\(root)/\(name)/runs/\(id)" }

    public func status(_ name: String, _ id: String) -> RunStatus? {
        guard let data = reader.contents(atPath: "\(runDirectory(name, id))/status") else { return nil }
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
        guard let data = reader.contents(atPath: "\(runDirectory(name, run.id))/config.yaml") else { return false }
        return run.isConfiguration(String(decoding: data, as: UTF8.self))
    }

    /// Where a planned run stands, for `rnn-exp plan`.
    public enum Standing: Sendable, Equatable {
        /// No status yet.
        case toRun
        /// Finished (`done` or `diverged`) with the same resolved configuration.
        case finished(RunStatus)
        /// Finished, but with another configuration: it trains again.
        case configChanged
        /// Failed or interrupted earlier: it trains again.
        case retry(RunStatus)
        /// Stopped earlier, with a checkpoint of the same configuration: it continues in this
        /// epoch (1-based; epochs before it are done).
        case resumes(epoch: Int)
        /// Not started, but the finished run `from` has the same configuration with fewer epochs
        /// (`epoch`, its last) and kept its final state: this run continues from there.
        case continues(from: String, epoch: Int)
    }

    /// `donors`: the experiment's done runs read once (`donorIndex`), for a plan of many runs;
    /// nil reads them now.
    public func standing(_ name: String, _ run: PlannedRun, donors: DonorIndex? = nil) -> Standing {
        let s = status(name, run.id)
        if let s, isFinished(name, run) { return .finished(s) }
        if case .found(let c) = loadCheckpoint(name, run) {
            if s == nil { return .resumes(epoch: Self.resumeEpoch(c)) }
        } else if case .found(let donor, let c) = continuation(name, run, index: donors) {
            // As the runner does: a donor only for a run without a checkpoint of its own.
            return .continues(from: donor, epoch: c.records.last?.epoch ?? 0)
        }
        guard let s else { return .toRun }
        return s == .done ? .configChanged : .retry(s)
    }

    /// What a path given where an experiment file is expected turns out to be.
    public enum ResultsFolderLookup: Sendable, Equatable {
        /// Not a directory: read it as an experiment file.
        case notAFolder
        /// A results folder: the experiment file its `experiment.json` names, the results root
        /// (the folder's parent) and the experiment's name.
        case file(String, root: String, name: String)
        /// A directory that is not a results folder, or whose experiment file is gone.
        case unreadable(String)
    }

    /// `summarize results/NAME`: the experiment file behind a results folder.
    public static func experimentFile(ofResultsFolder path: String) -> ResultsFolderLookup {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return .notAFolder }
        guard let data = FileManager.default.contents(atPath: "\(path)/experiment.json"), let record = ExperimentRecord.decode(data) else {
            return .unreadable("a folder without experiment.json: give the experiment file (YAML), or a results folder written by rnn-exp run")
        }
        guard FileManager.default.fileExists(atPath: record.file) else {
            return .unreadable("the experiment file of this results folder, \(record.file), is gone: give the experiment file (YAML)")
        }
        let url = URL(fileURLWithPath: path).standardizedFileURL
        return .file(record.file, root: url.deletingLastPathComponent().path, name: record.name)
    }

    /// The epoch a run continues in from `checkpoint`: the one after its last finished epoch.
    public static func resumeEpoch(_ checkpoint: Checkpoint) -> Int { (checkpoint.records.last?.epoch ?? 0) + 1 }

    /// Checks that the results folder can be written before anything trains (creates it). Asks
    /// the system (`access`, which knows read-only mounts) rather than writing a probe file, so a
    /// process killed here leaves nothing behind.
    public func checkWritable() throws(WriteError) {
        try AtomicFile.makeDirectory(root)
        guard access(root, W_OK) == 0 else { throw WriteError(path: root, reason: String(cString: strerror(errno))) }
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
        AtomicFile.removeStaleTemporaries(in: "\(dir)/checkpoint")
        let statusPath = "\(dir)/status"
        for path in [statusPath, finalStatePath(name, run.id)] where unlink(path) != 0 && errno != ENOENT {
            throw WriteError(path: path, reason: String(cString: strerror(errno)))
        }
        try writer.write(run.configFile, to: "\(dir)/config.yaml")
    }

    public func writeMetrics(_ name: String, _ id: String, records: [EpochRecord], metric: MetricKind,
                             diagnostics: Bool = false, windows: Bool = false, adaptive: Bool = false) throws(WriteError) {
        try writer.write(Self.metricsCSV(records, metric: metric, diagnostics: diagnostics, windows: windows, adaptive: adaptive),
                         to: "\(runDirectory(name, id))/metrics.csv")
    }

    /// Writes the weights and metrics of a finished run, then its status (last).
    public func finish(_ name: String, _ run: PlannedRun, _ outcome: RunOutcome) throws(WriteError) {
        let dir = runDirectory(name, run.id)
        let diagnostics = !run.config.diagnostics.isOff
        try writeMetrics(name, run.id, records: outcome.records, metric: run.config.metric, diagnostics: diagnostics,
                         windows: run.config.training.randomTruncation, adaptive: run.config.training.adaptiveTruncation)
        if diagnostics {
            try writer.write(Self.csv(outcome.gradientRows, GradientRow.columns), to: "\(dir)/gradient.csv")
            try writer.write(Self.csv(outcome.creditRows, CreditRow.columns), to: "\(dir)/credit.csv")
        }
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
        if let f = outcome.floor {
            try writer.write("\(NumberText.format(f.loss))\n# \(f.description)\n", to: "\(dir)/floor")
        }
        if outcome.status == .done, var state = outcome.finalState {
            state.canonicalConfig = run.canonical
            try writer.write(state.encoded(metric: run.config.metric), to: finalStatePath(name, run.id))
        }
        try writer.write(outcome.status.fileText, to: "\(dir)/status")
        removeCheckpoint(name, run.id)
    }

    // MARK: CSV

    static func metricsCSV(_ records: [EpochRecord], metric: MetricKind, diagnostics: Bool = false,
                           windows: Bool = false, adaptive: Bool = false) -> String {
        csv(records, EpochRecord.columns(metric: metric, diagnostics: diagnostics, windows: windows, adaptive: adaptive))
    }

    static func csv<Record>(_ records: [Record], _ columns: [Column<Record>]) -> String {
        var w = CSVWriter(header: columns.header())
        for r in records { w.append(columns.fields(r)) }
        return w.text
    }

    static func rows<Record>(_ data: Data?, file: String, _ parse: ([String]) -> Record?) -> [Record] {
        guard let data, let table = try? CSVTable.parse(data, file: file) else { return [] }
        return table.rows.compactMap(parse)
    }

    /// A run's files read back (nil when it has no status yet). Cached: a run whose `status` and
    /// `metrics.csv` are the same versions as last time is not read again, so regenerating the
    /// summaries reads only what changed (and stats the rest).
    func readRun(_ name: String, _ run: PlannedRun, metric: MetricKind) -> StoredRun? {
        let dir = runDirectory(name, run.id)
        guard let statusStamp = reader.stamp(atPath: "\(dir)/status") else { return nil }
        let stamps = [statusStamp, reader.stamp(atPath: "\(dir)/metrics.csv")]
        let key = "\(name)/\(run.id)"
        if let hit = cache.lookup(key, stamps: stamps, canonical: run.canonical) { return hit }
        guard let folder = Self.readRunFolder(dir, metric: metric, diagnostics: !run.config.diagnostics.isOff, reader: reader) else { return nil }
        let record = StoredRun(run: run, folder: folder)
        cache.store(key, stamps: stamps, canonical: run.canonical, record)
        return record
    }

    /// What a run's folder holds, typed (nil when it has no status). `diagnostics`: read
    /// `gradient.csv` and `credit.csv` too. The summaries read through `readRun`; the report,
    /// which has the folder but not the plan, reads here.
    static func readRunFolder(_ dir: String, metric: MetricKind, diagnostics: Bool,
                              reader: any ResultsFileReader = FileSystemReader()) -> RunFolder? {
        guard let data = reader.contents(atPath: "\(dir)/status"),
              let status = RunStatus.parse(String(decoding: data, as: UTF8.self)) else { return nil }
        var records: [EpochRecord] = []
        if let data = reader.contents(atPath: "\(dir)/metrics.csv"),
           let table = try? CSVTable.parse(data, file: "\(dir)/metrics.csv") {
            records = table.rows.compactMap { EpochRecord(fields: $0, header: table.header, metric: metric) }
        }
        func firstNumber(_ file: String) -> Double? {
            reader.contents(atPath: "\(dir)/\(file)")
                .flatMap { String(decoding: $0, as: UTF8.self).split(separator: "\n").first.flatMap { Double($0) } }
        }
        var folder = RunFolder(status: status, records: records, baselineLoss: firstNumber("baseline"), floorLoss: firstNumber("floor"))
        if diagnostics {
            folder.gradientRows = rows(reader.contents(atPath: "\(dir)/gradient.csv"), file: "gradient.csv", GradientRow.init(fields:))
            folder.creditRows = rows(reader.contents(atPath: "\(dir)/credit.csv"), file: "credit.csv", CreditRow.init(fields:))
        }
        return folder
    }
}

/// Runs read for the summaries, by `experiment/run id`, with the versions of the files they came
/// from. Shared by the copies of one store (a struct); thread-safe.
final class StoredRunCache: @unchecked Sendable {
    private struct Entry { let stamps: [FileStamp?]; let canonical: String; let record: StoredRun }
    private var entries: [String: Entry] = [:]
    private let lock = NSLock()

    func lookup(_ key: String, stamps: [FileStamp?], canonical: String) -> StoredRun? {
        lock.lock(); defer { lock.unlock() }
        guard let e = entries[key], e.stamps == stamps, e.canonical == canonical else { return nil }
        return e.record
    }

    func store(_ key: String, stamps: [FileStamp?], canonical: String, _ record: StoredRun) {
        lock.lock(); defer { lock.unlock() }
        entries[key] = Entry(stamps: stamps, canonical: canonical, record: record)
    }

    /// Grid runs' settings by dotted path, by canonical text (read once per sweep, not per refresh).
    private var flattened: [String: [(key: String, text: String)]] = [:]

    func settings(_ canonical: String) -> [(key: String, text: String)]? {
        lock.lock(); defer { lock.unlock() }
        return flattened[canonical]
    }

    func storeSettings(_ canonical: String, _ settings: [(key: String, text: String)]) {
        lock.lock(); defer { lock.unlock() }
        flattened[canonical] = settings
    }

    /// Runs outside a plan's grid, resolved from their `config.yaml` (by its path and version).
    private var foreignRuns: [String: (stamp: FileStamp, run: PlannedRun, values: [String: String])] = [:]

    func foreign(_ path: String, stamp: FileStamp) -> (run: PlannedRun, values: [String: String])? {
        lock.lock(); defer { lock.unlock() }
        guard let e = foreignRuns[path], e.stamp == stamp else { return nil }
        return (e.run, e.values)
    }

    func storeForeign(_ path: String, stamp: FileStamp, _ run: (run: PlannedRun, values: [String: String])) {
        lock.lock(); defer { lock.unlock() }
        foreignRuns[path] = (stamp, run.run, run.values)
    }

}
