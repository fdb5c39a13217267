import Foundation
import Testing
import Experiments
import RNNTestSupport

/// `training.rflo_feedback` (SPEC 3.5) from experiment files.
@Suite("rflo feedback experiments")
struct RFLOFeedbackExperimentTests {
    static func file(_ name: String, _ training: String, sweep: String = "") -> String {
        """
        name: \(name)
        dataset: {kind: echo, train: 600, validation: 100}
        model:
          layers:
            - {type: rnn, units: 5}
            - {type: dense, activation: softmax}
        training: {epochs: 2, batch: 4, optimizer: {name: sgd, lr: 0.1}, seed: 1\(training)}
        \(sweep)
        """
    }

    /// random feedback trains, differs from symmetric, and its saved config says so and validates;
    /// beside bptt in an algorithm sweep it is ignored at bptt's points.
    @Test func randomFeedbackTrainsAndCollapsesAtOtherAlgorithms() throws {
        let dir = scratchDirectory("rflo-feedback")
        writeFile("\(dir)/fb.yaml", Self.file("fb", ", tau_max: 4, rflo_feedback: random",
                                              sweep: "sweep:\n  training.algorithm: [bptt, rflo]"))
        let plan = try rnnExp(["plan", "\(dir)/fb.yaml"])
        #expect(plan.status == 0 && plan.stdout.contains("algorithm=bptt-") && plan.stdout.contains("algorithm=rflo-"), "\(plan.stdout)\(plan.stderr)")
        let r = try rnnExp(["run", "\(dir)/fb.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/fb/runs")
        let rflo = try #require(runs.first { $0.hasPrefix("algorithm=rflo") })
        let config = try String(contentsOfFile: "\(dir)/r/fb/runs/\(rflo)/config.yaml", encoding: .utf8)
        #expect(config.contains("rflo_feedback: random"), "\(config)")
        let bptt = try #require(runs.first { $0.hasPrefix("algorithm=bptt") })
        #expect(!(try String(contentsOfFile: "\(dir)/r/fb/runs/\(bptt)/config.yaml", encoding: .utf8)).contains("rflo_feedback"))
        writeFile("\(dir)/sym.yaml", Self.file("sym", ", algorithm: rflo"))
        writeFile("\(dir)/rand.yaml", Self.file("rand", ", algorithm: rflo, rflo_feedback: random"))
        for name in ["sym", "rand"] { #expect(try rnnExp(["run", "\(dir)/\(name).yaml", "--results", "\(dir)/r", "--quiet"]).status == 0) }
        func weights(_ name: String) throws -> Data {
            let run = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/\(name)/runs").first)
            return try #require(FileManager.default.contents(atPath: "\(dir)/r/\(name)/runs/\(run)/final.safetensors"))
        }
        #expect(try Safetensors.decode(weights("sym")).get().tensors["layers.0.W_t"]?.values
                != Safetensors.decode(weights("rand")).get().tensors["layers.0.W_t"]?.values)
    }

    @Test(arguments: [
        (", algorithm: uoro, rflo_feedback: random", "rflo_feedback applies to algorithm: rflo only"),
        (", algorithm: rflo, rflo_feedback: randm", "did you mean random"),
    ])
    func badFeedbackIsALocatedError(_ training: String, _ message: String) throws {
        let dir = scratchDirectory("rflo-feedback-bad")
        writeFile("\(dir)/bad.yaml", Self.file("bad", training))
        let r = try rnnExp(["validate", "\(dir)/bad.yaml"])
        #expect(r.status == 2 && r.stderr.contains("bad.yaml:7:") && r.stderr.contains(message), "\(r.stderr)")
    }
}
