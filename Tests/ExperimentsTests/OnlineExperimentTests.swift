import Foundation
import Testing
@testable import Experiments
import RNNCore
import RNNTestSupport

/// Issue 22: `training.algorithm` in experiment files, grids, runs and summaries (SPEC 3.3).
@Suite("Online algorithms in experiments", .serialized)
struct OnlineExperimentTests {
    static let sweep = """
        name: ovt
        dataset: {kind: echo, lags: [2], weights: [0.5], train: 600, validation: 100}
        model:
          layers:
            - {type: rnn, units: 5}
            - {type: dense, activation: softmax}
        training: {epochs: 2, batch: 4, tau_b: 1, optimizer: {name: adam, lr: 0.01}}
        diagnostics: {gradient_every: 40, reference_tau_max: 10}
        sweep:
          training.algorithm: [bptt, rtrl, uoro]
          training.tau_max: [2, 4, 9]

        """

    /// The online points of a grid that sweeps both the algorithm and tau_max are one run each
    /// (they take no tau_max); the bptt points keep tau_max in their ids, and plan reports the
    /// points that collapsed.
    @Test func onlinePointsDoNotMultiplyByTauMax() throws {
        let dir = scratchDirectory("online-plan")
        writeFile("\(dir)/o.yaml", Self.sweep)
        let plan = try Planner.plan(files: ["\(dir)/o.yaml"]).get()[0]
        let ids = plan.runs.map { String($0.id.dropLast(7)) }
        #expect(ids == ["algorithm=bptt,tau_max=2", "algorithm=bptt,tau_max=4", "algorithm=bptt,tau_max=9",
                        "algorithm=rtrl", "algorithm=uoro"])
        #expect(plan.collapsed.map(\.label) == ["algorithm=rtrl,tau_max=4", "algorithm=rtrl,tau_max=9",
                                                 "algorithm=uoro,tau_max=4", "algorithm=uoro,tau_max=9"])
        #expect(plan.runs.filter { $0.config.training.algorithm != .bptt }.allSatisfy { $0.config.tauMax == nil })
        #expect(plan.runs[3].config.algorithm == .online(.rtrl, tauB: 1, rfloDecay: 0))
        let shown = try rnnExp(["plan", "\(dir)/o.yaml", "--results", "\(dir)/r"])
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("9 points over training.algorithm, training.tau_max; 5 runs: 0 done, 5 to train, 0 resume, 0 continue; 0 skipped, 4 collapsed"), "\(shown.stdout)")
        // SPEC 3.3: B · n · P = 4 lanes · 5 units · 5 · (1 input + 5 + 1) = 700
        #expect(shown.stdout.contains("rtrl influence 700 values"), "\(shown.stdout)")
    }

    /// A file that names no algorithm is bptt and keeps its canonical YAML (so its run id).
    @Test func bpttIsTheDefaultAndLeftOutOfTheCanonicalYAML() throws {
        let dir = scratchDirectory("online-default")
        writeFile("\(dir)/a/e.yaml", validBase)
        writeFile("\(dir)/b/e.yaml", validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, algorithm: bptt}"))
        let a = try Planner.plan(files: ["\(dir)/a/e.yaml"]).get()[0].runs[0]
        let b = try Planner.plan(files: ["\(dir)/b/e.yaml"]).get()[0].runs[0]
        #expect(a.canonical == b.canonical && !a.canonical.contains("algorithm"))
        #expect(a.config.algorithm == .bptt(a.config.truncation))
    }

    /// The sweep runs end to end: summary.csv has the algorithm column, an online run's tau_max is
    /// empty and its tau_b the update interval, its updates one per step, and the diagnostics
    /// compare every algorithm's gradient with BPTT's (rtrl's first update is the reference itself).
    @Test func anOnlineSweepRunsAndSummarises() throws {
        let dir = scratchDirectory("online-run")
        writeFile("\(dir)/o.yaml", Self.sweep)
        let r = try rnnExp(["run", "\(dir)/o.yaml", "--results", "\(dir)/r", "--jobs", "2", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = parseCSV(readFile("\(dir)/r/ovt/summary.csv") ?? "")
        #expect(column(summary, "algorithm") == ["bptt", "bptt", "bptt", "rtrl", "uoro"])
        #expect(column(summary, "tau_max") == ["2", "4", "9", "", ""])
        #expect(column(summary, "tau_b") == ["1", "1", "1", "1", "1"])
        // Issue 29 bug 14: the swept tau_max reads as the tau_max column, not a duplicate of it.
        #expect(!summary.header.contains("training.tau_max") && !summary.header.contains("training.algorithm"), "\(summary.header)")
        // An echo stream of 600 steps in 4 lanes: 150 steps a lane, an update at every step.
        #expect(Set(column(summary, "updates")) == ["300"])
        #expect(column(summary, "status").allSatisfy { $0 == "done" })
        #expect(column(summary, "mean_grad_cos").allSatisfy { Double($0) != nil })
        let rtrl = try #require(column(summary, "run").first { $0.hasPrefix("algorithm=rtrl") })
        let gradient = parseCSV(readFile("\(dir)/r/ovt/runs/\(rtrl)/gradient.csv") ?? "")
        let firstCos = try #require(Double(column(gradient, "cos").first ?? ""))
        #expect(abs(firstCos - 1) < 1e-5, "rtrl's first update is BPTT's gradient at the same weights")
    }
}
