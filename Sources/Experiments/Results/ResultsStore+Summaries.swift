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
        let diagnostics = plan.gridRuns.contains { !$0.config.diagnostics.isOff }
        // Step counts per dataset configuration and seed (`full` may need the data's longest
        // sequence), keyed by value (a text key printed the dataset by reflection, twice per run
        // and regeneration: a fifth of a 10,000-run sweep).
        struct CountKey: Hashable { let dataset: DatasetConfig, seed: Int, tauMax: String, tauB: String }
        var counts: [CountKey: (tauMax: Int, tauB: Int)?] = [:]
        let algorithms = SummaryTable.AlgorithmColumns(plan.gridRuns.map(\.config))
        let columns = SummaryTable.columns(sweptKeys: plan.sweptKeys, metric: metric, diagnostics: diagnostics,
                                           algorithms: algorithms) { run in
            let key = CountKey(dataset: run.config.dataset, seed: run.config.seed, tauMax: run.config.tauMaxText,
                               tauB: run.config.tauBText)
            if let known = counts[key] { return known }
            let c = run.config.stepCounts(datasets: plan.datasets)
            counts[key] = c
            return c
        }
        let longColumns = SummaryTable.longColumns(sweptKeys: plan.sweptKeys, metric: metric, diagnostics: diagnostics)
        var summary = CSVWriter(header: columns.header())
        var long = CSVWriter(header: longColumns.header())
        var records: [String: StoredRun] = [:]
        for run in plan.gridRuns {
            guard let record = readRun(plan.name, run, metric: metric) else { continue }
            records[run.id] = record
            for epoch in record.records { long.append(longColumns.fields((record, epoch))) }
            summary.append(columns.fields(record))
        }
        try writer.write(summary.text, to: "\(dir)/summary.csv")
        try writer.write(long.text, to: "\(dir)/metrics.csv")
        try writer.write(SettingSummary.csv(plan, records: records, metric: metric), to: "\(dir)/summary-by-setting.csv")
        try writer.write(Self.experimentRecord(plan, explainGrids: explainGrids).encoded(), to: "\(dir)/experiment.json")
    }

    /// `experiment.json` of the plan: description, swept values in sweep order, the points skipped
    /// as invalid, the explain grids and the dataset's dependency lags when every run shares them.
    static func experimentRecord(_ plan: ExperimentPlan, explainGrids: [ExplainGrid]) -> ExperimentRecord {
        var sweepValues: [String: [String]] = [:]
        for key in plan.sweptKeys { sweepValues[key] = [] }
        for run in plan.gridRuns {
            for (k, v) in run.swept where !(sweepValues[k]?.contains(v) ?? true) { sweepValues[k]?.append(v) }
        }
        for s in plan.gridSkipped {
            for (k, v) in s.values where !(sweepValues[k]?.contains(v) ?? true) { sweepValues[k]?.append(v) }
        }
        return ExperimentRecord(
            name: plan.name, description: plan.description, file: plan.file, sweptKeys: plan.sweptKeys,
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
