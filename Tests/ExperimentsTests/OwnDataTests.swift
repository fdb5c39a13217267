import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 24 feature 3: your own data gets the frontier (`lags:` on csv datasets), and
/// `rnn-exp dataset export` writes a built-in dataset as csv that a csv experiment reads back to
/// the same losses.
@Suite("Own data: csv lags and dataset export", .serialized)
struct OwnDataTests {
    /// Every epoch's train and validation loss of the experiment's one run, as written.
    func losses(_ results: String, _ name: String) throws -> [String] {
        let runs = try FileManager.default.contentsOfDirectory(atPath: "\(results)/\(name)/runs").filter { !$0.hasPrefix(".") }
        #expect(runs.count == 1)
        let m = parseCSV(try #require(readFile("\(results)/\(name)/runs/\(runs[0])/metrics.csv")))
        return zip(column(m, "train_loss"), column(m, "val_loss")).map { "\($0),\($1)" }
    }

    /// Exports `yaml`'s dataset, runs a csv experiment on it with `model` and `training`, and
    /// checks every epoch's losses equal the original run's, digit for digit.
    func roundTrip(_ name: String, dataset: String, model: String, training: String, expectLanes: Bool) throws {
        let dir = scratchDirectory("export")
        writeFile("\(dir)/\(name).yaml", "name: \(name)\ndataset: \(dataset)\nmodel: \(model)\ntraining: \(training)\n")
        let export = try rnnExp(["dataset", "export", "\(dir)/\(name).yaml", "--output", "\(dir)/data.csv"])
        #expect(export.status == 0, "\(export.stderr)")
        let lines = export.stdout.split(separator: "\n").map(String.init)
        let datasetLine = try #require(lines.first { $0.hasPrefix("dataset: {kind: csv") })
        #expect(datasetLine.contains("path: \(dir)/data.csv") || datasetLine.contains("path: \"\(dir)/data.csv\""), "\(datasetLine)")
        var csvTraining = training
        if expectLanes {
            let t = try #require(lines.first { $0.hasPrefix("training: {batch: ") }, "\(export.stdout)")
            #expect(t.contains("shuffle: false"))
            csvTraining = String(training.dropLast()) + ", shuffle: false}"
        }
        writeFile("\(dir)/back.yaml", "name: back\n\(datasetLine)\nmodel: \(model)\ntraining: \(csvTraining)\n")
        for f in ["\(name).yaml", "back.yaml"] {
            let r = try rnnExp(["run", "\(dir)/\(f)", "--results", "\(dir)/results", "--quiet", "--no-report"])
            #expect(r.status == 0, "\(f): \(r.stderr)")
        }
        let original = try losses("\(dir)/results", name), reimported = try losses("\(dir)/results", "back")
        #expect(original.count == 4)
        #expect(reimported == original)
    }

    @Test func exportedSequencesGiveTheSameLosses() throws {
        try roundTrip("adding", dataset: "{kind: adding, length: 7, train: 24, validation: 8}",
                      model: "{layers: [{type: rnn, units: 4}, {type: dense, activation: identity}]}",
                      training: "{epochs: 3, batch: 5, tau_max: 3, precision: float64, optimizer: {name: adam, lr: 0.02}, seed: 4}",
                      expectLanes: false)
    }

    @Test func anExportedStreamGivesTheSameLosses() throws {
        try roundTrip("sine", dataset: "{kind: sine, train: 203, validation: 41}",
                      model: "{layers: [{type: rnn, units: 4}, {type: dense, activation: identity}]}",
                      training: "{epochs: 3, batch: 4, tau_max: 6, tau_b: 2, precision: float64, optimizer: {name: adam, lr: 0.02}}",
                      expectLanes: true)
    }

    /// The export's format: a header, one row per step, class targets as ids, empty cells where a
    /// step has no target, one-hot inputs as 0/1 columns.
    @Test func exportFormat() throws {
        let dir = scratchDirectory("export-format")
        writeFile("\(dir)/copy.yaml", """
            dataset: {kind: copy, symbols: 2, length: 1, delay: 1, train: 3, validation: 1}
            model: {layers: [{type: rnn, units: 3}, {type: dense}]}
            training: {epochs: 1, batch: 2}

            """)
        let plan = try Planner.plan(files: ["\(dir)/copy.yaml"]).get()[0]
        let e = try DatasetExport.export(plan)
        let table = parseCSV(e.csv)
        #expect(table.header.first == "sequence" && table.header.last == "y")
        #expect(e.trainSequences == 3 && e.validationSequences == 1 && e.targetType == .class)
        #expect(Set(column(table, "sequence")) == ["0", "1", "2", "3"])
        for c in e.inputColumns { #expect(column(table, c).allSatisfy { $0 == "0" || $0 == "1" }) }
        #expect(column(table, "y").contains("") && column(table, "y").contains { !$0.isEmpty })
    }

    /// `lags:` on a csv dataset: explain, experiment.json and the report's frontier use it, and it
    /// changes no run id.
    @Test func csvLagsDeclareTheDependencies() throws {
        let dir = scratchDirectory("csv-lags")
        var rows = ["id,x,y"]
        for s in 0..<6 { for n in 0..<6 { rows.append("s\(s),\((s + n) % 2),\(n >= 2 ? String((s + n) % 2) : "")") } }
        writeFile("\(dir)/lag.csv", rows.joined(separator: "\n") + "\n")
        let base = """
            name: lagged
            dataset: {kind: csv, path: lag.csv, sequence: id, inputs: x, targets: y, target_type: class, validation: 2LAGS}
            model: {layers: [{type: rnn, units: 3}, {type: dense, activation: softmax}]}
            training: {epochs: 1, batch: 2, tau_b: 1}
            sweep:
              training.tau_max: [1, 3]

            """
        writeFile("\(dir)/plain.yaml", base.replacingOccurrences(of: "LAGS", with: ""))
        writeFile("\(dir)/lagged.yaml", base.replacingOccurrences(of: "LAGS", with: ", lags: [2]"))
        let plain = try Planner.plan(files: ["\(dir)/plain.yaml"]).get()[0]
        let lagged = try Planner.plan(files: ["\(dir)/lagged.yaml"]).get()[0]
        #expect(lagged.runs.map(\.id) == plain.runs.map(\.id), "lags changes no run id")
        let r = try rnnExp(["explain", "\(dir)/lagged.yaml", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"dependencies\": [{\"lag\": 2, \"some\": false, \"all\": false}]"), "\(r.stdout)")
        let run = try rnnExp(["run", "\(dir)/lagged.yaml", "--results", "\(dir)/results", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(FileManager.default.contents(atPath: "\(dir)/results/lagged/experiment.json"))
        let record = try #require(ExperimentRecord.decode(json))
        #expect(record.dependencyLags == [[2, 2]])
        let html = try #require(readFile("\(dir)/results/lagged/report.html"))
        #expect(html.contains("the predicted frontier for the dataset's longest dependency lag 2"))
        let bad = base.replacingOccurrences(of: "LAGS", with: ", lags: [-1]")
        writeFile("\(dir)/bad.yaml", bad)
        let v = try rnnExp(["validate", "\(dir)/bad.yaml"])
        #expect(v.status == 2 && v.stderr.contains("dataset.lags.0: must be at least 0, found -1"), "\(v.stderr)")
    }
}
