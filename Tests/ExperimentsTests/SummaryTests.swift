import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 15: summaries at constant cost per run, and `summary-by-setting.csv`.
@Suite("Summaries", .serialized)
struct SummaryTests {
    /// Counts the files the results layer reads.
    final class CountingReader: ResultsFileReader, @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var reads: Int { lock.lock(); defer { lock.unlock() }; return count }
        func contents(atPath path: String) -> Data? {
            lock.lock(); count += 1; lock.unlock()
            return FileManager.default.contents(atPath: path)
        }
        func stamp(atPath path: String) -> FileStamp? { FileSystemReader().stamp(atPath: path) }
    }

    static func trivialSweep(_ runs: Int, dir: String) throws -> ExperimentPlan {
        writeFile("\(dir)/t.yaml", """
            name: trivial
            dataset: {kind: adding, length: 3, train: 2, validation: 2}
            model: {layers: [{type: rnn, units: 2}, {type: dense, activation: identity}]}
            training: {epochs: 1, batch: 2}
            sweep:
              training.seed: [\((1...runs).map(String.init).joined(separator: ", "))]

            """)
        return try Planner.plan(files: ["\(dir)/t.yaml"]).get()[0]
    }

    /// A whole sweep of N runs reads O(N) files in the results layer (the old runner re-read every
    /// run after each one: O(N²)), and regenerating again reads nothing that did not change.
    @Test func aSweepReadsEachRunOnce() throws {
        let dir = scratchDirectory("reads")
        let reads = try [60, 240].map { n -> Int in
            let plan = try Self.trivialSweep(n, dir: "\(dir)/\(n)")
            let reader = CountingReader()
            let store = ResultsStore(root: "\(dir)/\(n)/r", reader: reader)
            #expect(Runner(plans: [plan], store: store, options: .init(jobs: 1)).run().allDone)
            let afterSweep = reader.reads
            try store.writeSummaries(plan, explainGrids: plan.explainGrids())
            #expect(reader.reads == afterSweep, "an unchanged results folder was read again")
            return afterSweep
        }
        // Per run: status and config (is it done?), status, metrics and baseline once for the summary.
        #expect(reads[0] <= 60 * 8 && reads[1] <= 240 * 8, "\(reads)")
        #expect(Double(reads[1]) / Double(reads[0]) < 4.5, "reads grow faster than the number of runs: \(reads)")
    }

    /// The files of a 1,000-run sweep (summaries refreshed at most every few seconds, from the
    /// cache) equal those the old algorithm writes: every run's files read afresh.
    @Test func thousandRunSweepEqualsAFreshSummary() throws {
        let dir = scratchDirectory("thousand")
        let plan = try Self.trivialSweep(1000, dir: dir)
        #expect(Runner(plans: [plan], store: ResultsStore(root: "\(dir)/r"), options: .init(jobs: 2)).run().allDone)
        let files = ["summary.csv", "metrics.csv", "summary-by-setting.csv"]
        let swept = files.map { readFile("\(dir)/r/trivial/\($0)") }
        try ResultsStore(root: "\(dir)/r").writeSummaries(plan, explainGrids: plan.explainGrids())
        for (name, text) in zip(files, swept) {
            #expect(text != nil && text == readFile("\(dir)/r/trivial/\(name)"), "\(name)")
        }
        #expect(parseCSV(swept[0] ?? "").rows.count == 1000)
    }

    /// `summary-by-setting.csv` against statistics computed here: mean, sample sd (n − 1), min,
    /// max and the Student-t 95% half-width with t from a printed table.
    @Test func summaryBySettingMatchesAnIndependentComputation() throws {
        let dir = scratchDirectory("bysetting")
        writeFile("\(dir)/s.yaml", """
            name: bs
            dataset: {kind: binary-addition, bits: 4, train: 16, validation: 8}
            model: {layers: [{type: rnn, units: 4}, {type: dense, activation: sigmoid}]}
            training: {epochs: 2, batch: 4, optimizer: {name: adam, lr: 0.05}}
            sweep:
              training.tau_max: [2, full]
              training.seed: [1, 2, 3]

            """)
        let r = try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = parseCSV(readFile("\(dir)/r/bs/summary.csv") ?? "")
        let bySetting = parseCSV(readFile("\(dir)/r/bs/summary-by-setting.csv") ?? "")
        #expect(bySetting.header.prefix(3) == ["training.tau_max", "runs", "done"])
        #expect(column(bySetting, "training.tau_max") == ["2", "full"])
        let t2 = 4.302652730  // t_{0.975, 2}, from a printed table
        for (row, setting) in zip(bySetting.rows, ["2", "full"]) {
            let mine = summary.rows.filter { $0[summary.header.firstIndex(of: "training.tau_max")!] == setting }
            #expect(row[1] == "3" && row[2] == "3")
            for measure in ["final_val_loss", "best_val_loss", "final_val_accuracy"] {
                let x = mine.map { Double($0[summary.header.firstIndex(of: measure)!])! }
                let mean = x.reduce(0, +) / 3
                let sd = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot()
                func value(_ stat: String) -> Double {
                    Double(row[bySetting.header.firstIndex(of: "\(measure)_\(stat)")!]) ?? .nan
                }
                #expect(abs(value("mean") - mean) <= 1e-12 * max(1, abs(mean)), "\(measure)")
                #expect(abs(value("sd") - sd) <= 1e-12 * max(1, sd), "\(measure)")
                #expect(value("min") == x.min()! && value("max") == x.max()!, "\(measure)")
                #expect(abs(value("ci95") - t2 * sd / 3.0.squareRoot()) <= 1e-9 * max(1, sd), "\(measure)")
            }
        }
    }

    /// The t quantiles: the table's ends and the expansion beyond it.
    @Test func studentTQuantiles() {
        #expect(abs(SettingSummary.studentT975(degreesOfFreedom: 1) - 12.706) < 1e-3)
        #expect(abs(SettingSummary.studentT975(degreesOfFreedom: 30) - 2.042) < 1e-3)
        #expect(abs(SettingSummary.studentT975(degreesOfFreedom: 40) - 2.021) < 1e-3)   // printed tables
        #expect(abs(SettingSummary.studentT975(degreesOfFreedom: 120) - 1.980) < 1e-3)
        // One run: no spread.
        #expect(SettingSummary.describe([0.5]) == ["0.5", "", "0.5", "0.5", ""])
    }
}
