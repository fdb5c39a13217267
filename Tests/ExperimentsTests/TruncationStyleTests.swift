import Foundation
import Testing
@testable import Experiments
import RNNCore
import RNNTestSupport

/// Named truncation styles (SPEC 3.4): `training.style: {name, K}` sets `(tau_b, tau_max)`.
@Suite("truncation styles")
struct TruncationStyleTests {
    @Test func eachNameGivesItsWindow() {
        func w(_ n: TruncationStyle.Name, _ k: Int) -> [Int] { let s = TruncationStyle(name: n, k: k).window; return [s.tauB, s.tauMax] }
        #expect(w(.tf, 5) == [5, 5])
        #expect(w(.doubleTF, 5) == [9, 9])
        #expect(w(.original, 5) == [1, 5])
        #expect(w(.originalBuffer, 5) == [5, 9])
        #expect(TruncationStyle.Name.allCases.map(\.rawValue) == ["tf", "double-tf", "original", "original-buffer"])
    }

    static func file(_ name: String, _ truncation: String) -> String {
        """
        name: \(name)
        dataset: {kind: copy, symbols: 4, length: 3, delay: 4, train: 64, validation: 16}
        model:
          layers:
            - {type: rnn, units: 8}
            - {type: dense, activation: softmax}
        training:
          epochs: 2
          batch: 8
          optimizer: {name: adam, lr: 0.01}
          \(truncation)

        """
    }

    /// Each style trains bit for bit as its `(tau_b, tau_max)` written out; a swept style's run
    /// ids show the window; summary.csv's tau_b and tau_max are the style's.
    @Test func stylesTrainAsTheirWindowsWrittenOut() throws {
        let dir = scratchDirectory("styles")
        writeFile("\(dir)/styles.yaml", Self.file("styles", "style: {name: tf, K: 3}")
            + "sweep:\n  training.style.name: [tf, double-tf, original, original-buffer]\n")
        let r = try rnnExp(["run", "\(dir)/styles.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let windows = [("tf", 3, 3), ("double-tf", 5, 5), ("original", 1, 3), ("original-buffer", 3, 5)]
        let runs = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/styles/runs")
        let summary = parseCSV(try String(contentsOfFile: "\(dir)/r/styles/summary.csv", encoding: .utf8))
        let tb = try #require(summary.header.firstIndex(of: "tau_b")), tm = try #require(summary.header.firstIndex(of: "tau_max"))
        for (name, tauB, tauMax) in windows {
            let run = try #require(runs.first { $0.hasPrefix("name=\(name),tau_b=\(tauB),tau_max=\(tauMax)-") }, "\(runs)")
            let row = try #require(summary.rows.first { $0[0] == run })
            #expect(row[tb] == "\(tauB)" && row[tm] == "\(tauMax)")
            writeFile("\(dir)/\(name).yaml", Self.file(name, "tau_b: \(tauB)\n  tau_max: \(tauMax)"))
            let plain = try rnnExp(["run", "\(dir)/\(name).yaml", "--results", "\(dir)/r", "--quiet"])
            #expect(plain.status == 0, "\(plain.stderr)")
            let plainRun = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/\(name)/runs").first)
            let a = try #require(FileManager.default.contents(atPath: "\(dir)/r/styles/runs/\(run)/final.safetensors"))
            let b = try #require(FileManager.default.contents(atPath: "\(dir)/r/\(name)/runs/\(plainRun)/final.safetensors"))
            #expect(try Safetensors.decode(a).get().tensors.mapValues(\.values) == Safetensors.decode(b).get().tensors.mapValues(\.values),
                    "\(name)")
            let config = try String(contentsOfFile: "\(dir)/r/styles/runs/\(run)/config.yaml", encoding: .utf8)
            writeFile("\(dir)/copy-\(name).yaml", config)
            #expect(try rnnExp(["validate", "\(dir)/copy-\(name).yaml"]).status == 0, "\(config)")
        }
    }

    @Test(arguments: [
        ("style: {name: tf, K: 3}\n  tau_max: 5", "a style sets tau_b and tau_max: remove tau_max"),
        ("style: {name: tf, K: 3}\n  tau_b: 2", "a style sets tau_b and tau_max: remove tau_b"),
        ("style: {name: tbtt, K: 3}", "truncation style"),
        ("style: {name: tf}", "training.style.K: missing"),
        ("style: {name: tf, K: 0}", "must be at least 1"),
    ])
    func badStylesAreLocatedErrors(_ truncation: String, _ message: String) throws {
        let dir = scratchDirectory("styles-bad")
        writeFile("\(dir)/bad.yaml", Self.file("bad", truncation))
        let r = try rnnExp(["validate", "\(dir)/bad.yaml"])
        #expect(r.status == 2 && r.stderr.contains("bad.yaml:") && r.stderr.contains(message), "\(r.stderr)")
    }
}
