import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 24 feature 1: the report shows what a researcher compares against — the task's baseline
/// and floor as lines, the metric's and grad_cos's curves, heatmaps anchored at baseline and floor
/// with every value printed, a legend grouped by colour, result columns first, several experiments
/// on one page.
@Suite("Report content", .serialized)
struct ReportContentTests {
    static let echoYAML = """
        name: echo-small
        dataset: {kind: echo, lags: [3, 8], weights: [0.5, -0.25], base: 0.5, train: 400, validation: 200}
        model: {layers: [{type: rnn, units: 4}, {type: dense, activation: softmax}]}
        training: {epochs: 2, batch: 4, tau_b: 1, optimizer: {name: adam, lr: 0.01}}
        diagnostics: {gradient_every: 20, reference_tau_max: 12, credit_lags: 6}
        sweep:
          training.tau_max: [2, 9]
          training.optimizer.lr: [0.01, 0.003]

        """

    static func run(_ yaml: String, name: String, in dir: String) throws -> String {
        writeFile("\(dir)/\(name).yaml", yaml)
        let r = try rnnExp(["run", "\(dir)/\(name).yaml", "--results", "\(dir)/results", "--quiet", "--jobs", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        return "\(dir)/results/\(name)"
    }

    @Test func theReportShowsBaselinesFloorsMetricsAndResultsFirst() throws {
        let dir = scratchDirectory("report-content")
        let folder = try Self.run(Self.echoYAML, name: "echo-small", in: dir)
        let html = try #require(readFile("\(folder)/report.html"))
        // Baseline and floor lines on both loss charts (echo: 0.6616 and 0.4545 nats).
        let curves = html.components(separatedBy: "<h2>Learning curves</h2>").dropFirst().first?.components(separatedBy: "<h2>").first ?? ""
        #expect(curves.components(separatedBy: "class=\"ref\"").count - 1 == 4, "two lines on each of two loss charts")
        #expect(html.contains(">baseline 0.6616</text>") && html.contains(">floor 0.4545</text>"))
        // The metric's and grad_cos's curves.
        #expect(html.contains("aria-label=\"val_accuracy\"") && html.contains("aria-label=\"grad_cos\""))
        // A legend row per colour (tau_max), each line named by its other setting.
        #expect(html.components(separatedBy: "<div class=\"legend-row\"><b").count - 1 >= 2)
        #expect(html.contains(">tau_max=2</b>") && html.contains("</svg>lr=0.003</span>"))
        // A final_val_loss heatmap whose colour scale runs from the floor to the baseline.
        #expect(html.contains("0.6616 (baseline)</text>") && html.contains("0.4545 (floor)</text>"))
        // Result columns first in the run table.
        let table = try #require(html.components(separatedBy: "<h2>Runs</h2>").last)
        let headers = table.components(separatedBy: "<th>").dropFirst().prefix(8).map { String($0.prefix { $0 != "<" }) }
        #expect(headers == ["run", "status", "final_val_loss", "best_val_loss", "final_val_accuracy", "mean_grad_cos",
                            "mean_grad_rel_bias", "credit_horizon"], "\(headers)")
    }

    @Test func runTableColumnsPutResultsFirst() throws {
        let order = HTMLReport.tableOrder(["run", "status", "training.tau_max", "dataset", "final_train_loss", "final_val_loss", "best_val_loss", "best_epoch", "wall_s"],
                                          sweptKeys: ["training.tau_max"])
        #expect(order == ["run", "status", "final_val_loss", "best_val_loss", "final_train_loss", "best_epoch", "training.tau_max", "dataset", "wall_s"])
    }

    /// `rnn-exp report A B` compares experiments on one page: both in the table (linked to their
    /// reports), both in the legend and the curves; the one-report options are an error there.
    @Test func reportOfSeveralFoldersComparesThem() throws {
        let dir = scratchDirectory("report-compare")
        let a = try Self.run(Self.echoYAML, name: "echo-small", in: dir)
        let b = try Self.run(Self.echoYAML.replacingOccurrences(of: "name: echo-small", with: "name: echo-gru")
            .replacingOccurrences(of: "type: rnn", with: "type: gru"), name: "echo-gru", in: dir)
        let r = try rnnExp(["report", a, b])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "\(dir)/results/comparison.html\n", "\(r.stdout)")
        let html = try #require(readFile("\(dir)/results/comparison.html"))
        #expect(html.contains("<a href=\"echo-small/report.html\">echo-small</a>") && html.contains("<a href=\"echo-gru/report.html\">echo-gru</a>"))
        #expect(html.contains(">echo-small</b>") && html.contains(">echo-gru</b>"))
        #expect(html.contains("aria-label=\"val_loss\"") && html.contains("aria-label=\"val_accuracy\""))
        #expect(html.contains(">baseline 0.6616</text>"), "the same baseline, named once")
        // Each experiment's lines: 2 tau_max × 2 lr settings, as polylines titled by experiment.
        #expect(html.components(separatedBy: "<title>echo-gru: ").count - 1 >= 4)
        let out = "\(dir)/elsewhere.html"
        #expect(try rnnExp(["report", a, b, "--output", out]).status == 0)
        #expect(FileManager.default.fileExists(atPath: out))
        let bad = try rnnExp(["report", a, b, "--x", "tau_max"])
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("--x tau_max: applies to one experiment's report"), "\(bad.stderr)")
    }
}
