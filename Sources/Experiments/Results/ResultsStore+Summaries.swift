import Foundation
import CSV
import RNNDatasets

extension ResultsStore {
    // MARK: Summaries

    /// Regenerates `summary.csv` and the top-level `metrics.csv` of an experiment from its runs'
    /// files, atomically and under the experiment's lock, and `experiment.json` with the plan's
    /// explain grids (`ExperimentPlan.explainGrids()`, computed by the caller).
    public func writeSummaries(_ plan: ExperimentPlan, explainGrids: [ExplainGrid]) throws(WriteError) {
        let dir = experimentDirectory(plan.name)
        try AtomicFile.makeDirectory(dir)
        let lock = try FileLock.lock("\(dir)/.summary.lock")
        defer { lock.unlock() }
        AtomicFile.removeStaleTemporaries(in: dir)
        let metric = plan.gridRuns.first?.config.metric ?? .none
        let table = summaryRows(plan)
        let diagnostics = table.runs.contains { !$0.config.diagnostics.isOff }
        // Step counts per dataset configuration and seed (`full` may need the data's longest
        // sequence), keyed by value (a text key printed the dataset by reflection, twice per run
        // and regeneration: a fifth of a 10,000-run sweep).
        struct CountKey: Hashable { let dataset: DatasetConfig, seed: Int, tauMax: String, tauB: String }
        var counts: [CountKey: (tauMax: Int, tauB: Int)?] = [:]
        var algorithms = SummaryTable.AlgorithmColumns(table.runs.map(\.config))
        algorithms.algorithm = algorithms.algorithm || table.keys.contains("training.algorithm")
        let outside = table.outside
        let inGrid: ((StoredRun) -> Bool)? = outside.isEmpty ? nil : { !outside.contains($0.run.id) }
        let stepCounts: (PlannedRun) -> (tauMax: Int, tauB: Int)? = { run in
            let tauMax = run.config.training.randomTruncation
                ? "random \(run.config.training.truncationContinue)" : run.config.tauMaxText  // random: its c sets the window
            let key = CountKey(dataset: run.config.dataset, seed: run.config.seed, tauMax: tauMax, tauB: run.config.tauBText)
            if let known = counts[key] { return known }
            let c = run.config.stepCounts(datasets: plan.datasets)
            counts[key] = c
            return c
        }
        let windows = table.runs.contains { $0.config.training.randomTruncation }
        let adaptive = table.runs.contains { $0.config.training.adaptiveTruncation }
        let longColumns = SummaryTable.longColumns(sweptKeys: table.keys, metric: metric, diagnostics: diagnostics,
                                                   windows: windows, adaptive: adaptive, inGrid: inGrid)
        var long = CSVWriter(header: longColumns.header())
        var records: [String: StoredRun] = [:]
        var stored: [StoredRun] = []
        for run in table.runs {
            // The cached record keeps the run it was read for: this regeneration's columns may differ.
            guard let folder = readRun(plan.name, run, metric: metric)?.folder else { continue }
            let record = StoredRun(run: run, folder: folder)
            records[run.id] = record
            stored.append(record)
            for epoch in record.records { long.append(longColumns.fields((record, epoch))) }
        }
        // One column per quantity (issue 29, bug 14): a swept key whose fixed column shows the
        // same text for every run is that column; one written otherwise somewhere (`full`) stays.
        // The fixed columns come from the runs' settings, so this is decided over every run of
        // the table, finished or not: the header stays the same while a sweep runs.
        let all = SummaryTable.columns(sweptKeys: table.keys, metric: metric, diagnostics: diagnostics,
                                       algorithms: algorithms, adaptive: adaptive, inGrid: inGrid, stepCounts: stepCounts)
        let settingsOnly = table.runs.map { StoredRun(run: $0, folder: RunFolder(status: .done, records: [])) }
        let merged = Set(table.keys.enumerated().filter { i, key in
            guard let name = SummaryTable.fixedColumn(forKey: key), let fixed = all.first(where: { $0.name == name }) else { return false }
            return settingsOnly.allSatisfy { fixed.field($0) == $0.run.swept[i].text }
        }.map(\.element))
        let columns = all.filter { !merged.contains($0.name) }
        var summary = CSVWriter(header: columns.header())
        for record in stored { summary.append(columns.fields(record)) }
        try writer.write(summary.text, to: "\(dir)/summary.csv")
        try writer.write(long.text, to: "\(dir)/metrics.csv")
        try writer.write(SettingSummary.csv(keys: table.keys, runs: table.runs, records: records, metric: metric,
                                                    diagnostics: diagnostics), to: "\(dir)/summary-by-setting.csv")
        try writer.write(Self.experimentRecord(plan, explainGrids: explainGrids, rows: table).encoded(), to: "\(dir)/experiment.json")
    }

    /// The rows of an experiment's summaries (issue 29, bug 1): the runs of the plan's grid, then
    /// every other run of `runs/` that finished (has a status) with a configuration that still
    /// resolves, so that nothing trained disappears when a grid was grown by `--set`, trained
    /// longer, or edited. The keys are the file's swept keys, then, when there are such runs, every
    /// other key whose value varies among the rows and has no fixed column of its own (`dataset`,
    /// `layers`, `tau_max`, `tau_b`, `batch`, `optimizer`, `lr`, `seed`, `algorithm`).
    struct SummaryRows {
        /// Column keys: swept keys first, then the other varying keys in document order.
        var keys: [String]
        /// Every row's run, its `swept` values aligned to `keys` (`""`: not set for that run).
        var runs: [PlannedRun]
        /// The ids of the rows outside the plan's grid (empty: no `in_grid` column).
        var outside: Set<String>
    }

    /// Keys with a fixed summary column of their own, never an extra column.
    static func hasFixedColumn(_ key: String) -> Bool {
        ["name", "dataset.kind", "training.tau_max", "training.tau_b", "training.batch", "training.optimizer.name",
         "training.optimizer.lr", "training.seed", "training.algorithm", "training.rflo_decay"].contains(key)
            || key.hasPrefix("model.layers.")
    }

    func summaryRows(_ plan: ExperimentPlan) -> SummaryRows {
        let grid = Set(plan.gridRuns.map(\.id))
        let runsDir = "\(experimentDirectory(plan.name))/runs"
        let ids = ((try? FileManager.default.contentsOfDirectory(atPath: runsDir)) ?? []).filter { !$0.hasPrefix(".") && !grid.contains($0) }.sorted()
        var others: [(run: PlannedRun, values: [String: String])] = []
        for id in ids {
            let dir = runDirectory(plan.name, id)
            guard reader.stamp(atPath: "\(dir)/status") != nil, let config = foreignRun(plan, id) else { continue }
            others.append(config)
        }
        guard !others.isEmpty else { return SummaryRows(keys: plan.sweptKeys, runs: plan.gridRuns, outside: []) }
        // Every row's settings by dotted path.
        func settings(_ run: PlannedRun) -> [(key: String, text: String)] {
            if let known = cache.settings(run.canonical) { return known }
            let flat = StoredConfig.document(run.canonical, file: "config.yaml").map { StoredConfig.flatten($0) } ?? []
            cache.storeSettings(run.canonical, flat)
            return flat
        }
        let gridValues: [[String: String]] = plan.gridRuns.map { run in
            var values = Dictionary(settings(run).map { ($0.key, $0.text) }, uniquingKeysWith: { _, b in b })
            for (k, v) in run.swept { values[k] = v }
            return values
        }
        var order: [String] = []
        var seen = Set(plan.sweptKeys)
        for run in plan.gridRuns.prefix(1) + others.map(\.run) {
            for k in settings(run).map(\.key) where !seen.contains(k) && !Self.hasFixedColumn(k) {
                seen.insert(k)
                order.append(k)
            }
        }
        let all = gridValues + others.map(\.values)
        let extra = order.filter { k in Set(all.map { $0[k] ?? "" }).count > 1 }
        let keys = plan.sweptKeys + extra
        func aligned(_ run: PlannedRun, _ values: [String: String]) -> PlannedRun {
            PlannedRun(id: run.id, swept: keys.map { ($0, values[$0] ?? "") }, config: run.config, canonical: run.canonical)
        }
        let runs = zip(plan.gridRuns, gridValues).map(aligned) + others.map { aligned($0.run, $0.values) }
        return SummaryRows(keys: keys, runs: runs, outside: Set(others.map(\.run.id)))
    }

    /// A run of `runs/` outside the plan's grid, from its `config.yaml` (cached while the file is
    /// unchanged), with its settings by dotted path; nil when the file is missing or no longer
    /// resolves (its data file gone).
    func foreignRun(_ plan: ExperimentPlan, _ id: String) -> (run: PlannedRun, values: [String: String])? {
        let path = "\(runDirectory(plan.name, id))/config.yaml"
        guard let stamp = reader.stamp(atPath: path) else { return nil }
        if let hit = cache.foreign(path, stamp: stamp) { return hit }
        guard let data = reader.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let doc = StoredConfig.document(text, file: path),
              let config = StoredConfig.resolve(text, path: path, experimentFile: plan.file, cache: plan.datasets) else { return nil }
        var values = Dictionary(StoredConfig.flatten(doc).map { ($0.key, $0.text) }, uniquingKeysWith: { _, b in b })
        // Keys the canonical text leaves out at their defaults, as a grid writes them when swept.
        values["training.algorithm"] = config.training.algorithm.rawValue
        if config.training.algorithm == .rflo { values["training.rflo_decay"] = NumberText.format(config.training.rfloDecay) }
        let run = (run: PlannedRun(id: id, swept: [], config: config, canonical: text), values: values)
        cache.storeForeign(path, stamp: stamp, run)
        return run
    }

    /// `experiment.json` of the plan: description, swept values in sweep order, the points skipped
    /// as invalid, the explain grids and the dataset's dependency lags when every run shares them.
    static func experimentRecord(_ plan: ExperimentPlan, explainGrids: [ExplainGrid], rows: SummaryRows? = nil) -> ExperimentRecord {
        var sweepValues: [String: [String]] = [:]
        // The summaries' key columns: the swept keys, and the keys that vary among runs outside the
        // grid (the report draws them as settings), with every row's values (the grid's first).
        let keys = rows?.keys ?? plan.sweptKeys
        for key in keys { sweepValues[key] = [] }
        for run in plan.gridRuns + (rows?.runs.filter { rows?.outside.contains($0.id) ?? false } ?? []) {
            for (k, v) in run.swept where !(sweepValues[k]?.contains(v) ?? true) { sweepValues[k]?.append(v) }
        }
        for s in plan.gridSkipped {
            for (k, v) in s.values where !(sweepValues[k]?.contains(v) ?? true) { sweepValues[k]?.append(v) }
        }
        return ExperimentRecord(
            name: plan.name, description: plan.description, file: plan.file, sweptKeys: keys,
            sweepValues: sweepValues, gridSize: plan.gridRuns.count + plan.gridSkipped.count, runs: plan.gridRuns.count,
            metric: plan.gridRuns.first?.config.metric.columnName ?? "",
            skipped: plan.gridSkipped.map { s in
                ExperimentRecord.Skipped(label: s.label, reason: s.reason,
                                         values: Dictionary(s.values.map { ($0.key, $0.text) }, uniquingKeysWith: { a, _ in a }))
            },
            explain: explainGrids,
            dependencyLags: Self.sharedLags(plan).map { $0.ranges.map { [$0.lowerBound, $0.upperBound] } })
    }
}

extension ResultsStore {
    /// The dependency lags of the plan's dataset, when every run's are the same (nil otherwise).
    static func sharedLags(_ plan: ExperimentPlan) -> DependencyLags? {
        guard let first = plan.gridRuns.first?.config.dataset.dependencyLags else { return nil }
        return plan.gridRuns.allSatisfy({ $0.config.dataset.dependencyLags == first }) ? first : nil
    }
}
