import Foundation
import Testing
import Experiments
import RNNCore
import RNNTestSupport

/// An `lru` layer from an experiment file (SPEC 2): validated, trained with diagnostics, its
/// weights saved under SPEC 2's names; its own keys checked with located sentences.
@Suite("lru experiments")
struct LRUExperimentTests {
    static let file = """
        name: lru
        dataset: {kind: echo, train: 400, validation: 100}
        model:
          layers:
            - {type: lru, units: 6, state: 10, r_min: 0.5}
            - {type: dense, activation: softmax}
          loss: cross-entropy
        training: {epochs: 2, batch: 4, tau_max: 9, tau_b: 3, optimizer: {name: adam, lr: 0.01}, seed: 1}
        diagnostics: {gradient_every: 10, reference_tau_max: 20, credit_lags: 12}

        """

    @Test func trainsAndSavesItsWeightsUnderTheirNames() throws {
        let dir = scratchDirectory("lru")
        writeFile("\(dir)/lru.yaml", Self.file)
        let r = try rnnExp(["run", "\(dir)/lru.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let run = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/lru/runs").first)
        let bytes = try #require(FileManager.default.contents(atPath: "\(dir)/r/lru/runs/\(run)/final.safetensors"))
        let file = try Safetensors.decode(bytes).get()
        #expect(Set(file.tensors.keys) == Set(["nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im"].map { "layers.0.\($0)" }
                                              + ["layers.1.W_s", "layers.1.b"]))
        #expect(file.tensors["layers.0.B_re"]?.shape == [10, 1] && file.tensors["layers.0.C_im"]?.shape == [6, 10])
        let summary = try String(contentsOfFile: "\(dir)/r/lru/summary.csv", encoding: .utf8)
        #expect(summary.contains("lru6s10,dense2-softmax"), "\(summary)")
        // The saved configuration is a valid experiment file that keeps the lru's own keys.
        let config = try String(contentsOfFile: "\(dir)/r/lru/runs/\(run)/config.yaml", encoding: .utf8)
        #expect(config.contains("{type: lru, units: 6, state: 10, r_min: 0.5, r_max: 0.999, max_phase: 1}"), "\(config)")
        let gradient = try String(contentsOfFile: "\(dir)/r/lru/runs/\(run)/gradient.csv", encoding: .utf8)
        #expect(gradient.contains(",layers.0.nu_log,"), "\(gradient.prefix(300))")
    }

    @Test func itsKeysAreCheckedWithLocatedSentences() throws {
        let dir = scratchDirectory("lru-errors")
        writeFile("\(dir)/bad.yaml", Self.file
            .replacingOccurrences(of: "{type: lru, units: 6, state: 10, r_min: 0.5}", with: "{type: lru, units: 6, activation: tanh, r_min: 0.99, r_max: 0.5}")
            .replacingOccurrences(of: "{type: dense, activation: softmax}", with: "{type: dense, activation: softmax, state: 4}"))
        let r = try rnnExp(["validate", "\(dir)/bad.yaml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.yaml:5:") && r.stderr.contains("lru layers are linear: remove activation"), "\(r.stderr)")
        #expect(r.stderr.contains("r_min (0.99) is above r_max (0.5)"), "\(r.stderr)")
        #expect(r.stderr.contains("bad.yaml:6:") && r.stderr.contains("state applies to lru layers only"), "\(r.stderr)")
        // A linear last layer cannot give cross-entropy its softmax.
        writeFile("\(dir)/last.yaml", Self.file.replacingOccurrences(of: "    - {type: dense, activation: softmax}\n", with: ""))
        let last = try rnnExp(["validate", "\(dir)/last.yaml"])
        #expect(last.status == 2 && last.stderr.contains("an lru layer cannot be last"), "\(last.stderr)")
    }
}
