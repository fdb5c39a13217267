import Foundation
import Testing
@testable import Experiments
import RNNCore
import RNNTestSupport

/// `tau_max: adaptive` (Aicher et al., SPEC 3.4) from an experiment file: one value of a tau_max
/// (or style K) list beside fixed windows and random truncation, its keys `truncation: {delta,
/// every, max_lag}`, per-epoch `chosen_tau_max` and `rho`, located errors, bit-identical resume.
@Suite("adaptive truncation experiments", .serialized)
struct AdaptiveTruncationExperimentTests {
    static func file(_ name: String, dataset: String, training: String, sweep: String = "") -> String {
        RandomTruncationExperimentTests.file(name, dataset: dataset, training: training, sweep: sweep)
    }

    /// A stream sweep of a fixed window, adaptive at two delta and random: the adaptive keys are
    /// ignored (collapsed) at the window and random points, continue at the adaptive ones; every
    /// point trains; adaptive runs record each epoch's window and ρ, summary.csv their last and
    /// mean (its tau_max the mean chosen window), diagnostics' mean_grad_cos; the heatmaps have an
    /// adaptive column and the report draws the chosen window over epochs.
    @Test func sweepMixesWindowsAdaptiveAndRandom() throws {
        let dir = scratchDirectory("adaptive-sweep")
        writeFile("\(dir)/at.yaml", Self.file("at", dataset: "{kind: echo, train: 1600, validation: 200}",
                                               training: ", tau_b: 2, truncation: {continue: 0.8, max_lag: 16}",
                                               sweep: "diagnostics: {gradient_every: 20, reference_tau_max: 20}\n"
                                                   + "sweep:\n  training.tau_max: [4, adaptive, random]\n  training.truncation.delta: [0.5, 0.1]"))
        let plan = try Planner.plan(files: ["\(dir)/at.yaml"]).get()[0]
        #expect(plan.runs.count == 4, "\(plan.runs.map(\.id))")
        let r = try rnnExp(["run", "\(dir)/at.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let summary = parseCSV(try String(contentsOfFile: "\(dir)/r/at/summary.csv", encoding: .utf8))
        let swept = try #require(summary.header.firstIndex(of: "training.tau_max"))
        let tauMax = try #require(summary.header.firstIndex(of: "tau_max"))
        let last = try #require(summary.header.firstIndex(of: "chosen_tau_max_last"))
        let mean = try #require(summary.header.firstIndex(of: "chosen_tau_max_mean"))
        let rho = try #require(summary.header.firstIndex(of: "rho_mean"))
        let cos = try #require(summary.header.firstIndex(of: "mean_grad_cos"))
        let adaptive = summary.rows.filter { $0[swept] == "adaptive" }
        #expect(adaptive.count == 2)
        for row in adaptive {
            let k = try #require(Double(row[last])), m = try #require(Double(row[mean]))
            #expect(k >= 1 && k <= 16 && row[tauMax] == row[mean] && m >= 1 && m <= 16, "\(row)")
            #expect(Double(row[rho]) != nil && Double(row[cos]) != nil, "\(row)")
        }
        // A smaller delta never chooses a shorter window (the same first epoch's profile).
        #expect(summary.rows.filter { $0[swept] != "adaptive" }.allSatisfy { $0[last].isEmpty })
        let runs = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/at/runs").filter { $0.contains("adaptive") }
        #expect(runs.count == 2)
        for run in runs {
            let metrics = parseCSV(try String(contentsOfFile: "\(dir)/r/at/runs/\(run)/metrics.csv", encoding: .utf8))
            let chosen = try #require(metrics.header.firstIndex(of: "chosen_tau_max"))
            let bias = try #require(metrics.header.firstIndex(of: "rho"))
            #expect(metrics.rows.count == 3 && metrics.rows[0][chosen].isEmpty)
            for row in metrics.rows.dropFirst() {
                let k = try #require(Int(row[chosen])), p = try #require(Double(row[bias]))
                #expect(k >= 1 && k <= 16 && p >= 0 && p <= 1)
            }
            let config = try String(contentsOfFile: "\(dir)/r/at/runs/\(run)/config.yaml", encoding: .utf8)
            let written = config.contains("tau_max: adaptive") && config.contains("truncation: {") && config.contains("max_lag: 16")
            #expect(written && !config.contains("continue"), "\(config)")
            let copy = "\(dir)/copy-\(run).yaml"
            writeFile(copy, config)
            let again = try rnnExp(["validate", copy])
            #expect(again.status == 0, "\(again.stderr)")
        }
        let report = try String(contentsOfFile: "\(dir)/r/at/report.html", encoding: .utf8)
        let column = report.contains(">adaptive</text>"), chart = report.contains("<h2>Adaptive window</h2>")
        #expect(column, "the heatmaps lack the adaptive column")
        #expect(chart, "the report lacks the chosen window chart")
    }

    /// `style: {name: original-buffer, K: adaptive}`: the chosen K sets `(K, 2K − 1)`, so every
    /// epoch's tau_max is odd; the canonical YAML keeps the style.
    @Test func styleWithAdaptiveK() throws {
        let dir = scratchDirectory("adaptive-style")
        writeFile("\(dir)/s.yaml", Self.file("s", dataset: "{kind: echo, train: 1600, validation: 200}",
                                              training: ", style: {name: original-buffer, K: adaptive}, truncation: {delta: 0.2, max_lag: 12}"))
        let r = try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(dir)/r", "--quiet"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let run = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/r/s/runs").first)
        let config = try String(contentsOfFile: "\(dir)/r/s/runs/\(run)/config.yaml", encoding: .utf8)
        #expect(config.contains("style: {name: original-buffer, K: adaptive}"), "\(config)")
        let metrics = parseCSV(try String(contentsOfFile: "\(dir)/r/s/runs/\(run)/metrics.csv", encoding: .utf8))
        let chosen = try #require(metrics.header.firstIndex(of: "chosen_tau_max"))
        for row in metrics.rows.dropFirst() { #expect((Int(row[chosen]) ?? 0) % 2 == 1, "\(row)") }
    }

    /// Stopped after any number of batches (mid-epoch too: the window chosen at the epoch's start
    /// is in the checkpoint) and continued: the same run bit for bit, windows and ρ included; in
    /// both precisions, with an estimate every second epoch.
    @Test(arguments: ["float32", "float64"])
    func continuedRunsEqualUninterruptedOnes(_ precision: String) throws {
        let c = CheckpointTests.Case(id: "adaptive \(precision)", yaml: """
            name: ck
            dataset: {kind: adding, length: 12, train: 40, validation: 8}
            model: {layers: [{type: lstm, units: 5}, {type: dense, activation: identity}]}
            training: {epochs: 4, batch: 4, tau_max: adaptive, truncation: {delta: 0.05, every: 2, max_lag: 8},
                       precision: \(precision), optimizer: {name: adam, lr: 0.02}}

            """)
        let (plan, run) = try CheckpointTests.plan(c)
        let metric = run.config.metric
        func fingerprint(_ o: RunOutcome) -> [String] {
            CheckpointTests.fingerprint(o, metric: metric) + o.records.map { "\(NumberText.format($0.chosenTauMax)) \(NumberText.format($0.rho))" }
        }
        let reference = RunExecutor.execute(run.config, datasets: plan.datasets)
        #expect(reference.status == .done)
        #expect(reference.records.dropFirst().allSatisfy { $0.chosenTauMax != nil && $0.rho != nil })
        let expected = fingerprint(reference)
        var stops = 0
        for stopAfter in [1, 4, 11, 15, 23, 31] {
            var polls = 0, saved: Checkpoint? = nil
            let first = RunExecutor.execute(run.config, datasets: plan.datasets, shouldStop: { polls += 1; return polls > stopAfter },
                                            checkpoint: { saved = $0 })
            guard first.status == .interrupted else { continue }
            stops += 1
            var stamped = try #require(saved)
            stamped.canonicalConfig = run.canonical
            let decoded = try Checkpoint.decode(stamped.encoded(metric: metric), metric: metric).get()
            #expect(decoded == stamped && decoded.trainer.adaptive != nil)
            let second = RunExecutor.execute(run.config, datasets: plan.datasets, resume: decoded)
            #expect(fingerprint(second) == expected, "stopped after \(stopAfter) batches")
        }
        #expect(stops >= 4)
    }

    /// Located errors: delta outside (0, 1), every < 1, max_lag < 2, tau_b with tau_max: adaptive,
    /// each mode's keys with the other mode or a window.
    @Test(arguments: [
        (", tau_max: adaptive, truncation: {delta: 0}", "must be greater than 0"),
        (", tau_max: adaptive, truncation: {delta: 1}", "must be less than 1"),
        (", tau_max: adaptive, truncation: {every: 0}", "must be at least 1"),
        (", tau_max: adaptive, truncation: {max_lag: 1}", "must be at least 2"),
        (", tau_max: adaptive, tau_b: 3", "tau_b follows the chosen window"),
        (", tau_max: adaptive, truncation: {continue: 0.5}", "continue applies to tau_max: random only"),
        (", tau_max: random, truncation: {delta: 0.5}", "delta applies to tau_max: adaptive only"),
        (", tau_max: 4, truncation: {max_lag: 20}", "to tau_max: adaptive only"),
        (", tau_max: adaptive, truncation: {detla: 0.5}", "did you mean delta"),
    ])
    func badSettingsAreLocatedErrors(_ training: String, _ message: String) throws {
        let dir = scratchDirectory("adaptive-errors")
        writeFile("\(dir)/bad.yaml", Self.file("bad", dataset: "{kind: echo, train: 400, validation: 100}", training: training))
        let r = try rnnExp(["validate", "\(dir)/bad.yaml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.yaml:8:") && r.stderr.contains(message), "\(r.stderr)")
    }
}
