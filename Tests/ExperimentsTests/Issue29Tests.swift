import Foundation
import RNNTestSupport
import Testing
@testable import Experiments

/// Issue 29: comparing credit-assignment algorithms (the Experiments layer and the CLI).
@Suite("Issue 29", .serialized)
struct Issue29Tests {
    static let grown = """
        name: grown
        dataset: {kind: adding, length: 4, train: 8, validation: 4}
        model: {layers: [{type: rnn, units: 3}, {type: dense, activation: identity}]}
        training: {epochs: 1, batch: 4, tau_max: 2}
        sweep:
          training.tau_max: [2, 3]
          training.seed: [1, 2]

        """

    /// Bug 1: a sweep grown by `--set` (new values, more epochs) keeps every finished run in the
    /// summaries that a plain `summarize` of the file writes; the keys that vary are columns.
    @Test func everyFinishedRunIsASummaryRow() throws {
        let dir = scratchDirectory("allruns")
        writeFile("\(dir)/g.yaml", Self.grown)
        let results = "\(dir)/r"
        for extra in [[], ["--set", "sweep.training.tau_max=[2, 3, 4]"], ["--set", "training.epochs=2"]] {
            let r = try rnnExp(["run", "\(dir)/g.yaml", "--results", results, "--quiet", "--jobs", "1"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let folders = try FileManager.default.contentsOfDirectory(atPath: "\(results)/grown/runs").filter { !$0.hasPrefix(".") }.sorted()
        #expect(folders.count == 10, "\(folders)")
        let s = try rnnExp(["summarize", "\(dir)/g.yaml", "--results", results])
        #expect(s.status == 0, "\(s.stderr)")
        let summary = parseCSV(readFile("\(results)/grown/summary.csv") ?? "")
        #expect(column(summary, "run").sorted() == folders)
        #expect(summary.header.starts(with: ["run", "status", "in_grid", "training.tau_max", "training.seed", "training.epochs"]),
                "\(summary.header)")
        let rows = Dictionary(uniqueKeysWithValues: summary.rows.map { row in
            (row[0], Dictionary(uniqueKeysWithValues: zip(summary.header, row).map { ($0, $1) }))
        })
        #expect(rows.values.filter { $0["in_grid"] == "true" }.count == 4)
        #expect(rows.values.filter { $0["training.tau_max"] == "4" }.count == 2)
        #expect(rows.values.filter { $0["training.epochs"] == "2" }.count == 4)
        #expect(rows.values.allSatisfy { $0["status"] == "done" })
        // The long table has every run's epochs.
        let long = parseCSV(readFile("\(results)/grown/metrics.csv") ?? "")
        #expect(Set(column(long, "run")) == Set(folders))
        #expect(long.rows.count == 6 * 2 + 4 * 3)
        // summary-by-setting.csv over the same rows: a setting per (tau_max, epochs) with its 2 seeds.
        let bySetting = parseCSV(readFile("\(results)/grown/summary-by-setting.csv") ?? "")
        #expect(bySetting.header.prefix(4) == ["training.tau_max", "training.epochs", "runs", "done"], "\(bySetting.header)")
        let settings = bySetting.rows.map { "\($0[0])/\($0[1])/\($0[2])/\($0[3])" }.sorted()
        #expect(settings == ["2/1/2/2", "2/2/2/2", "3/1/2/2", "3/2/2/2", "4/1/2/2"], "\(settings)")
    }
}
