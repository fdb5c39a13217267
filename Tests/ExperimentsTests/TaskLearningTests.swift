import Foundation
import Testing
import RNNCore
@testable import Experiments
import RNNTestSupport

/// Issue 4: every dataset kind trains on the engine, and a small model's validation loss drops
/// below the task's trivial baseline within a few epochs. Each case names its baseline.
struct LearningCase: CustomTestStringConvertible, Sendable {
    let id: String
    let dataset: String
    let layers: String
    let training: String
    /// The trivial baseline the validation loss must beat, and what it is.
    let baseline: Double
    let baselineName: String
    var extraFiles: [String: String] = [:]
    var testDescription: String { id }
}

@Suite("Each task learns")
struct TaskLearningTests {
    static let cases: [LearningCase] = [
        LearningCase(id: "count-ones", dataset: "{kind: count-ones, length: 6, train: 200, validation: 50}",
                     layers: "[{type: rnn, units: 1, activation: identity}]",
                     training: "{epochs: 30, batch: 10, optimizer: {name: sgd, lr: 0.005}}",
                     baseline: 6.0 / 4, baselineName: "predict length/2 (MSE length/4)"),
        LearningCase(id: "binary-addition", dataset: "{kind: binary-addition, bits: 4, train: 300, validation: 100}",
                     layers: "[{type: rnn, units: 8}, {type: dense, activation: sigmoid}]",
                     training: "{epochs: 15, batch: 10, optimizer: {name: adam, lr: 0.02}}",
                     baseline: log(2.0), baselineName: "p = 0.5 for every bit (BCE ln 2)"),
        LearningCase(id: "adding", dataset: "{kind: adding, length: 6, train: 500, validation: 100}",
                     layers: "[{type: rnn, units: 8}, {type: dense, activation: identity}]",
                     training: "{epochs: 20, batch: 10, optimizer: {name: adam, lr: 0.01}}",
                     baseline: 1.0 / 6.0, baselineName: "predict 1 (MSE 1/6)"),
        LearningCase(id: "copy", dataset: "{kind: copy, symbols: 3, length: 2, delay: 2, train: 300, validation: 100}",
                     layers: "[{type: rnn, units: 16}, {type: dense, activation: softmax}]",
                     training: "{epochs: 15, batch: 10, optimizer: {name: adam, lr: 0.02}}",
                     baseline: log(3.0), baselineName: "memoryless guess (cross-entropy ln 3)"),
        LearningCase(id: "sine", dataset: "{kind: sine, train: 2000, validation: 400, noise: 0.0}",
                     layers: "[{type: rnn, units: 8}, {type: dense, activation: identity}]",
                     training: "{epochs: 10, batch: 4, tau_max: 10, optimizer: {name: adam, lr: 0.01}}",
                     baseline: .nan, baselineName: "persistence x_{t+1} = x_t (the dataset's own baseline)"),
        LearningCase(id: "reber", dataset: "{kind: reber, train: 300, validation: 100}",
                     layers: "[{type: rnn, units: 12}, {type: dense, activation: sigmoid}]",
                     training: "{epochs: 10, batch: 10, optimizer: {name: adam, lr: 0.02}}",
                     baseline: log(2.0), baselineName: "p = 0.5 for every symbol (BCE ln 2)"),
        LearningCase(id: "text", dataset: "{kind: text, path: tiny.txt}",
                     layers: "[{type: rnn, units: 16}, {type: dense, activation: softmax}]",
                     training: "{epochs: 8, batch: 4, tau_max: 8, optimizer: {name: adam, lr: 0.02}}",
                     baseline: log(5.0), baselineName: "uniform over the 5-character vocabulary (ln 5)",
                     extraFiles: ["tiny.txt": String(repeating: "abcde edcba aabbccddee ", count: 40)]),
        LearningCase(id: "csv", dataset: "{kind: csv, path: seq.csv, sequence: id, inputs: [x], targets: [y], validation: 20}",
                     layers: "[{type: rnn, units: 4}, {type: dense, activation: identity}]",
                     training: "{epochs: 20, batch: 10, optimizer: {name: adam, lr: 0.02}}",
                     baseline: 0.25, baselineName: "predict the mean of y ∈ {0, 1} (MSE 1/4)",
                     extraFiles: ["seq.csv": "id,x,y\n" + (0..<120).map { i in
                         let bit = (i * 7919) % 2
                         return "s\(i),\(bit),\ns\(i),0,\ns\(i),0,\(bit)\n"
                     }.joined()]),
    ]

    @Test(arguments: cases)
    func validationLossBeatsTheBaseline(_ c: LearningCase) throws {
        let dir = scratchDirectory("learn")
        for (name, text) in c.extraFiles { writeFile("\(dir)/\(name)", text) }
        writeFile("\(dir)/x.yaml", "name: \(c.id)\ndataset: \(c.dataset)\nmodel:\n  layers: \(c.layers)\ntraining: \(c.training)\n")
        let plan = try Planner.plan(files: ["\(dir)/x.yaml"]).get()[0]
        let outcome = RunExecutor.execute(plan.runs[0].config, datasets: plan.datasets)
        #expect(outcome.status == .done)
        let baseline = c.baseline.isNaN ? try #require(outcome.baseline?.loss) : c.baseline
        let final = try #require(outcome.records.last?.valLoss)
        #expect(final < baseline, "\(c.id): validation loss \(final) not below the baseline \(baseline) (\(c.baselineName))")
        let initial = try #require(outcome.records.first?.valLoss)
        #expect(final < initial, "\(c.id): no progress from epoch 0")
    }

    /// `random` is noise: nothing beats ln(classes) on validation, but training still runs and
    /// the training loss falls below its epoch-0 value (the model fits its stream).
    @Test func randomStreamTrains() throws {
        let dir = scratchDirectory("learn")
        writeFile("\(dir)/x.yaml", """
            dataset: {kind: random, inputs: 4, classes: 3, train: 400, validation: 100}
            model: {layers: [{type: rnn, units: 16}, {type: dense, activation: softmax}]}
            training: {epochs: 15, batch: 4, tau_max: 5, optimizer: {name: adam, lr: 0.02}}

            """)
        let plan = try Planner.plan(files: ["\(dir)/x.yaml"]).get()[0]
        let outcome = RunExecutor.execute(plan.runs[0].config, datasets: plan.datasets)
        #expect(outcome.status == .done)
        #expect(outcome.records.last!.trainLoss < outcome.records.first!.trainLoss)
        #expect(outcome.records.last!.valLoss! > log(3.0) - 0.2)
    }

    /// A learning rate that explodes marks the run diverged at the epoch it happened, and the
    /// sweep goes on.
    @Test func explodingLearningRateDiverges() throws {
        let dir = scratchDirectory("learn")
        writeFile("\(dir)/x.yaml", """
            name: boom
            dataset: {kind: count-ones, length: 20, train: 50, validation: 10}
            model: {layers: [{type: rnn, units: 4, activation: relu}, {type: dense, activation: identity}]}
            training: {epochs: 5, batch: 10}
            sweep:
              training.optimizer.lr: [0.001, 1000000]

            """)
        let r = try rnnExp(["run", "\(dir)/x.yaml", "--results", "\(dir)/results", "--quiet"])
        #expect(r.status == 1)
        let summary = parseCSV(readFile("\(dir)/results/boom/summary.csv")!)
        #expect(column(summary, "status") == ["done", "diverged"])
        let ids = column(summary, "run")
        let status = readFile("\(dir)/results/boom/runs/\(ids[1])/status") ?? ""
        // The status names the epoch that diverged; metrics.csv holds the epochs before it.
        let epoch = try #require(status.split(separator: ":").dropFirst().first.flatMap { Int($0.dropFirst(" epoch ".count)) })
        let metrics = parseCSV(readFile("\(dir)/results/boom/runs/\(ids[1])/metrics.csv") ?? "")
        #expect(epoch >= 1 && column(metrics, "epoch") == (0..<epoch).map(String.init), "\(status)")
        #expect(status.contains("NaN") || status.contains("nan") || status.contains("inf"))
        #expect(r.stderr.contains(ids[1]))
    }
}
