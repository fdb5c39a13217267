import Foundation
import Testing
import Experiments
import RNNCore
import RNNTestSupport

/// `tau_max: random` (ARTBP, SPEC 3.4) from an experiment file: one value of the tau_max list
/// beside fixed windows, its own key `truncation: {continue: c}`, located errors, and `c = 1`
/// trained exactly as full BPTT.
@Suite("random truncation experiments")
struct RandomTruncationExperimentTests {
    static func file(_ name: String, dataset: String, training: String, sweep: String = "") -> String {
        """
        name: \(name)
        dataset: \(dataset)
        model:
          layers:
            - {type: rnn, units: 6}
            - {type: dense, activation: softmax}
          loss: cross-entropy
        training: {epochs: 2, batch: 4, optimizer: {name: adam, lr: 0.01}, seed: 1\(training)}
        \(sweep)
        """
    }

    /// A stream sweep mixing fixed windows and random truncation at two `c` (the file's `tau_b`
    /// applies to the window points only, `truncation` to the random ones): every point trains;
    /// the random runs' saved configs say `tau_max: random` and their `c`; summary.csv's tau_max
    /// is the expected window (`1/(1 − c)`).
    @Test func sweepMixesFixedAndRandomWindows() throws {
        let dir = scratchDirectory("artbp-sweep")
        writeFile("\(dir)/rt.yaml", Self.file("rt", dataset: "{kind: echo, train: 1200, validation: 200}", training: ", tau_b: 2",
                                               sweep: "diagnostics: {gradient_every: 20, reference_tau_max: 20}\n"
                                                   + "sweep:\n  training.tau_max: [4, random]\n  training.truncation.continue: [0.8, 0.95]"))
        let r = try rnnExp(["run", "\(dir)/rt.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let summary = parseCSV(try String(contentsOfFile: "\(dir)/r/rt/summary.csv", encoding: .utf8))
        let tauMax = try #require(summary.header.firstIndex(of: "tau_max"))
        let swept = try #require(summary.header.firstIndex(of: "training.tau_max"))
        let random = summary.rows.filter { $0[swept] == "random" }.map { $0[tauMax] }.sorted()
        #expect(random == ["20", "5"], "\(summary.rows)")  // 1/(1 − 0.95), 1/(1 − 0.8)
        #expect(summary.rows.filter { $0[swept] == "4" }.count == 1, "the fixed window's points collapse to one run")
        // The report: random is a column of the tau_max heatmaps, and its update picture says so.
        let report = try String(contentsOfFile: "\(dir)/r/rt/report.html", encoding: .utf8)
        #expect(report.contains(">random</text>") && report.contains("tau_max random (c 0."), "report lacks the random column or caption")
        // Final loss against cost: one point per setting (the window, and random at each c).
        let cost = report.components(separatedBy: "<h2>Final loss against cost</h2>").dropFirst().first?
            .components(separatedBy: "<h2>").first ?? ""
        #expect(cost.components(separatedBy: "<circle").count - 1 == 3, "cost chart: \(cost.prefix(300))")
        #expect(cost.contains("tau_max=random, continue=0.95") && cost.contains("baseline"), "\(cost.prefix(600))")
        // Alignment with the true gradient: mean_grad_cos per setting with its seed bar.
        let alignment = report.components(separatedBy: "<h2>Alignment with the true gradient</h2>").dropFirst().first?
            .components(separatedBy: "<h2>").first ?? ""
        #expect(alignment.components(separatedBy: "<circle").count - 1 == 3, "alignment chart: \(alignment.prefix(300))")
        let runs = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/rt/runs").filter { $0.contains("random") }
        #expect(runs.count == 2)
        for run in runs {
            let config = try String(contentsOfFile: "\(dir)/r/rt/runs/\(run)/config.yaml", encoding: .utf8)
            #expect(config.contains("tau_max: random") && config.contains("truncation: {continue: 0."), "\(config)")
            let copy = "\(dir)/copy-\(run).yaml"
            writeFile(copy, config)
            let again = try rnnExp(["validate", copy])
            #expect(again.status == 0, "\(again.stderr)")
        }
    }

    /// With `c = 1` no truncation is drawn: the run is full BPTT bit for bit (another run id).
    @Test func continueOneTrainsAsFullBPTT() throws {
        let dir = scratchDirectory("artbp-one")
        let data = "{kind: count-ones, length: 8, train: 64, validation: 16}"
        writeFile("\(dir)/full.yaml", Self.file("full", dataset: data, training: ", tau_max: full")
            .replacingOccurrences(of: "activation: softmax}", with: "activation: identity}").replacingOccurrences(of: "cross-entropy", with: "mse"))
        writeFile("\(dir)/one.yaml", Self.file("one", dataset: data, training: ", tau_max: random, truncation: {continue: 1}")
            .replacingOccurrences(of: "activation: softmax}", with: "activation: identity}").replacingOccurrences(of: "cross-entropy", with: "mse"))
        for name in ["full", "one"] {
            let r = try rnnExp(["run", "\(dir)/\(name).yaml", "--results", "\(dir)/r", "--quiet"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        }
        func weights(_ name: String) throws -> Data {
            let run = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/\(name)/runs").first)
            return try #require(FileManager.default.contents(atPath: "\(dir)/r/\(name)/runs/\(run)/final.safetensors"))
        }
        let full = try Safetensors.decode(weights("full")).get(), one = try Safetensors.decode(weights("one")).get()
        #expect(full.tensors.mapValues(\.values) == one.tensors.mapValues(\.values))
    }

    /// Located errors: tau_b with random truncation, truncation without it, c outside (0, 1].
    @Test(arguments: [
        (", tau_max: random, tau_b: 3", "tau_b has no meaning with tau_max: random"),
        (", tau_max: 4, truncation: {continue: 0.8}", "applies to tau_max: random only"),
        (", tau_max: random, truncation: {continue: 0}", "must be greater than 0"),
        (", tau_max: random, truncation: {continue: 1.5}", "must be at most 1"),
        (", tau_max: random, truncation: {contine: 0.5}", "did you mean continue"),
    ])
    func badSettingsAreLocatedErrors(_ training: String, _ message: String) throws {
        let dir = scratchDirectory("artbp-errors")
        writeFile("\(dir)/bad.yaml", Self.file("bad", dataset: "{kind: echo, train: 400, validation: 100}", training: training))
        let r = try rnnExp(["validate", "\(dir)/bad.yaml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.yaml:8:") && r.stderr.contains(message), "\(r.stderr)")
    }
}

extension RandomTruncationExperimentTests {
    /// metrics.csv of a random-truncation run records each epoch's mean and longest window
    /// (SPEC 3.4): the mean near `1/(1 − c)`, the longest at least the mean; a fixed-window
    /// experiment has no such columns.
    @Test func metricsRecordTheWindows() throws {
        let dir = scratchDirectory("artbp-metrics")
        writeFile("\(dir)/w.yaml", Self.file("w", dataset: "{kind: echo, train: 4000, validation: 200}",
                                              training: ", tau_max: random, truncation: {continue: 0.8}"))
        let r = try rnnExp(["run", "\(dir)/w.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let run = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/w/runs").first)
        let metrics = parseCSV(try String(contentsOfFile: "\(dir)/r/w/runs/\(run)/metrics.csv", encoding: .utf8))
        let mean = try #require(metrics.header.firstIndex(of: "mean_window")), longest = try #require(metrics.header.firstIndex(of: "max_window"))
        #expect(metrics.rows.count == 3 && metrics.rows[0][mean].isEmpty)
        for row in metrics.rows.dropFirst() {
            let m = try #require(Double(row[mean])), l = try #require(Double(row[longest]))
            #expect(m > 3.5 && m < 6.5 && l >= m, "mean window \(m), longest \(l) (expected ≈ 5)")
        }
        writeFile("\(dir)/f.yaml", Self.file("f", dataset: "{kind: echo, train: 400, validation: 100}", training: ", tau_max: 4"))
        #expect(try rnnExp(["run", "\(dir)/f.yaml", "--results", "\(dir)/r", "--quiet"]).status == 0)
        let fixed = try String(contentsOfFile: "\(dir)/r/f/metrics.csv", encoding: .utf8)
        #expect(!fixed.contains("mean_window"))
    }
}
