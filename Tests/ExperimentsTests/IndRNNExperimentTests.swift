import Foundation
import Testing
import Experiments
import RNNCore
import RNNTestSupport

/// An `indrnn` layer from an experiment file: validated, trained (with diagnostics), its weights
/// saved under SPEC 2's names, and trained by an online algorithm.
@Suite("indrnn experiments")
struct IndRNNExperimentTests {
    static let file = """
        name: ind
        dataset: {kind: echo, train: 600, validation: 200}
        model:
          layers:
            - {type: indrnn, units: 6}
            - {type: dense, activation: softmax}
          loss: cross-entropy
        training: {epochs: 2, batch: 4, tau_max: 9, tau_b: 3, optimizer: {name: adam, lr: 0.01}, seed: 1}
        diagnostics: {gradient_every: 10, reference_tau_max: 20, credit_lags: 12}

        """

    @Test func trainsAndSavesItsWeightsUnderTheirNames() throws {
        let dir = scratchDirectory("indrnn")
        writeFile("\(dir)/ind.yaml", Self.file)
        let r = try rnnExp(["run", "\(dir)/ind.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/ind/runs")
        let run = try #require(runs.first)
        let bytes = try #require(FileManager.default.contents(atPath: "\(dir)/r/ind/runs/\(run)/final.safetensors"))
        let file = try Safetensors.decode(bytes).get()
        let names = Set(file.tensors.keys)
        #expect(names == ["layers.0.W_s", "layers.0.w_t", "layers.0.b", "layers.1.W_s", "layers.1.b"], "\(names)")
        #expect(file.tensors["layers.0.w_t"]?.shape == [6])
        let summary = try String(contentsOfFile: "\(dir)/r/ind/summary.csv", encoding: .utf8)
        #expect(summary.contains("indrnn6-tanh,dense2-softmax"), "\(summary)")
        let gradient = try String(contentsOfFile: "\(dir)/r/ind/runs/\(run)/gradient.csv", encoding: .utf8)
        #expect(gradient.contains(",layers.0.w_t,"), "\(gradient.prefix(300))")
    }

    /// snap1 on an indrnn stack runs from a YAML file; `plan` states its influence memory (per
    /// lane ≈ P of the layer, SPEC 3.5).
    @Test func snap1TrainsItFromAnExperimentFile() throws {
        let dir = scratchDirectory("indrnn-online")
        writeFile("\(dir)/ind.yaml", Self.file.replacingOccurrences(of: "tau_max: 9, tau_b: 3", with: "algorithm: snap1"))
        let v = try rnnExp(["validate", "\(dir)/ind.yaml"])
        #expect(v.status == 0, "\(v.stderr)")
        let r = try rnnExp(["run", "\(dir)/ind.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try String(contentsOfFile: "\(dir)/r/ind/summary.csv", encoding: .utf8)
        #expect(summary.contains("snap1"), "\(summary)")
    }
}
