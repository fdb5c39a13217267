import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 21: `experiment.json` is one type on both ends, and a section key added with
/// `omittedWhenDefault` leaves the canonical YAML (hence every run id) as it was.
@Suite("Typed read side and section keys")
struct ReadSideTests {
    static func plan(_ dir: String) throws -> ExperimentPlan {
        writeFile("\(dir)/e.yaml", """
            name: echo-small
            dataset: {kind: echo, lags: [2, 5], weights: [0.5, -0.25], base: 0.5, train: 200, validation: 40}
            model: {layers: [{type: rnn, units: 3}, {type: dense, activation: softmax}]}
            training: {epochs: 1, batch: 4, tau_max: 6, tau_b: 2}
            sweep:
              training.tau_max: [2, 6]
              training.tau_b: [1, 4]

            """)
        return try Planner.plan(files: ["\(dir)/e.yaml"]).get()[0]
    }

    /// What the store writes, the report reads back unchanged; lags left `null` when runs differ.
    @Test func experimentRecordRoundTrips() throws {
        let plan = try Self.plan(scratchDirectory("record"))
        let grids = plan.explainGrids()
        #expect(!grids.isEmpty)
        let record = ResultsStore.experimentRecord(plan, explainGrids: grids)
        #expect(record.skipped.count == 1)  // tau_b 4 > tau_max 2
        #expect(record.dependencyLags == [[2, 2], [5, 5]])
        #expect(ExperimentRecord.decode(record.encoded()) == record)
        var noLags = record
        noLags.dependencyLags = nil
        let text = String(decoding: noLags.encoded(), as: UTF8.self)
        #expect(text.contains("\"dependency_lags\" : null"))
        #expect(ExperimentRecord.decode(noLags.encoded()) == noLags)
    }

    /// The explain grids on the plan are the ones `explain --json` prints for the same point.
    @Test func planGridsMatchExplain() throws {
        let plan = try Self.plan(scratchDirectory("grids"))
        let first = try Explanation.explain(plan.runs[0], in: plan, showingTruncation: true)
        #expect(plan.explainGrids().first == first.explainGrid)
    }

    /// A new key declared `omittedWhenDefault` (as `training.algorithm` will be) writes nothing at
    /// its default and one line otherwise.
    @Test func omittedWhenDefaultKeyLeavesCanonicalYAMLAlone() throws {
        let plan = try Self.plan(scratchDirectory("omit"))
        let config = plan.runs[0].config
        let key = SectionKey<TrainingSettings>.integer("epochs", \.epochs, in: 1...10, omittedWhenDefault: true)
        #expect(key.canonical(TrainingSettings(), config).isEmpty)
        var changed = TrainingSettings()
        changed.epochs = 3
        #expect(key.canonical(changed, config) == ["  epochs: 3"])
        let choice = SectionKey<TrainingSettings>.choice("precision", \.precision, what: "precision", omittedWhenDefault: true)
        #expect(choice.canonical(TrainingSettings(), config).isEmpty)
        // The table itself writes every training key today (no run id changed).
        let lines = TrainingSettings.keys.flatMap { $0.canonical(config.training, config) }
        #expect(config.canonicalYAML().contains(lines.joined(separator: "\n")))
    }
}
