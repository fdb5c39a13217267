import CSV
import Foundation
import RNNCore

/// Reading the runs' curves for the report: only the files it draws (metrics.csv, and credit.csv
/// with diagnostics; the status is summary.csv's), each column looked up once per file, the runs
/// spread over the cores. A 6,000-run, 30-epoch experiment read every run's six files through
/// `ResultsStore.readRunFolder`, a row's fields into a dictionary each: half the report's time.
extension HTMLReport {
    /// Each run's epoch records (runs without a readable metrics.csv left out) and, when `credit`,
    /// its credit rows.
    static func readCurves(_ runs: [String], in dir: String, metric: MetricKind, credit: Bool)
        -> (curves: [String: [EpochRecord]], credit: [String: [CreditRow]]) {
        let results = Results(count: runs.count)
        let parts = min(max(ProcessInfo.processInfo.activeProcessorCount, 1), 8)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            for i in stride(from: part, to: runs.count, by: parts) {
                let folder = "\(dir)/runs/\(runs[i])"
                let records = epochRecords("\(folder)/metrics.csv", metric: metric)
                let rows = credit ? ResultsStore.rows(FileManager.default.contents(atPath: "\(folder)/credit.csv"), file: "credit.csv",
                                                      CreditRow.init(fields:)) : []
                results.set(i, records, rows)
            }
        }
        var curves: [String: [EpochRecord]] = [:], creditRows: [String: [CreditRow]] = [:]
        for (i, run) in runs.enumerated() {
            guard let r = results.get(i) else { continue }
            if let records = r.records { curves[run] = records }
            if !r.credit.isEmpty { creditRows[run] = r.credit }
        }
        return (curves, creditRows)
    }

    /// A run's metrics.csv as epoch records (the columns `EpochRecord(fields:header:metric:)`
    /// reads, by position); nil when the file is missing or unreadable.
    static func epochRecords(_ path: String, metric: MetricKind) -> [EpochRecord]? {
        guard let data = FileManager.default.contents(atPath: path), let table = try? CSVTable.parse(data, file: path) else { return nil }
        let index = Dictionary(table.header.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let epoch = index["epoch"], updates = index["updates"], train = index["train_loss"], wall = index["wall_s"]
        let val = index["val_loss"], metricColumn = metric.columnName.flatMap { index[$0] }, norm = index["grad_norm"]
        let speed = index["sample_steps_per_s"], cos = index["grad_cos"], bias = index["grad_rel_bias"]
        let meanWindow = index["mean_window"], maxWindow = index["max_window"]
        let chosen = index["chosen_tau_max"], rho = index["rho"], estimate = index["estimate_s"]
        return table.rows.compactMap { f in
            func real(_ i: Int?) -> Double? { i.flatMap { $0 < f.count && !f[$0].isEmpty ? Double(f[$0]) : nil } }
            guard let e = epoch.flatMap({ $0 < f.count ? Int(f[$0]) : nil }), let u = updates.flatMap({ $0 < f.count ? Int(f[$0]) : nil }),
                  let t = real(train), let w = real(wall) else { return nil }
            var record = EpochRecord(epoch: e, updates: u, trainLoss: t, valLoss: real(val), metric: real(metricColumn), gradNorm: real(norm),
                                     wallSeconds: w, sampleStepsPerSecond: real(speed), gradCos: real(cos), gradRelBias: real(bias))
            record.meanWindow = real(meanWindow)
            record.longestWindow = real(maxWindow)
            record.chosenTauMax = real(chosen)
            record.rho = real(rho)
            record.estimateSeconds = real(estimate)
            return record
        }
    }

    /// Per-run results written from several threads.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [(records: [EpochRecord]?, credit: [CreditRow])?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ records: [EpochRecord]?, _ credit: [CreditRow]) {
            lock.lock(); defer { lock.unlock() }
            slots[i] = (records, credit)
        }
        func get(_ i: Int) -> (records: [EpochRecord]?, credit: [CreditRow])? {
            lock.lock(); defer { lock.unlock() }
            return slots[i]
        }
    }
}
