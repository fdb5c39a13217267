import Foundation
import RNNTestSupport
import Testing
@testable import Experiments

/// Issue 29, bugs 5 and 9: the report's comparison of experiments and the algorithm × tau_max
/// heatmap.
@Suite("Issue 29: report", .serialized)
struct Issue29ReportTests {
    /// Bug 9: a report of several experiments takes --metric (each one's settings with mean ± sd
    /// and n of that summary.csv column), and an option's error names the option, not a fake
    /// file position (`--metric nope:1:1:`).
    @Test func comparisonTakesMetricAndOptionErrorsNameTheOption() throws {
        let dir = scratchDirectory("compare-metric")
        for name in ["a", "b"] {
            writeFile("\(dir)/\(name).yaml", """
                name: cmp-\(name)
                dataset: {kind: adding, length: 4, train: 8, validation: 4}
                model: {layers: [{type: rnn, units: \(name == "a" ? 3 : 4)}, {type: dense, activation: identity}]}
                training: {epochs: 1, batch: 4}
                diagnostics: {gradient_every: 1}
                sweep:
                  training.tau_max: [2, full]
                  training.seed: [1, 2]

                """)
            let r = try rnnExp(["run", "\(dir)/\(name).yaml", "--results", "\(dir)/r", "--quiet", "--jobs", "1"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let a = "\(dir)/r/cmp-a", b = "\(dir)/r/cmp-b"
        let ok = try rnnExp(["report", a, b, "--metric", "mean_grad_cos"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let html = readFile("\(dir)/r/comparison.html") ?? ""
        let section = html.components(separatedBy: "<h2>mean_grad_cos</h2>").dropFirst().first ?? ""
        #expect(section.contains("cmp-a") && section.contains("cmp-b") && section.contains("tau_max=full"), "\(section.prefix(600))")
        #expect(section.contains(" ± ") && section.contains("<td>2</td>"), "\(section.prefix(600))")
        let bad = try rnnExp(["report", a, b, "--metric", "mean_grad_cs"])
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("--metric mean_grad_cs: not a column of summary.csv; did you mean mean_grad_cos?"), "\(bad.stderr)")
        #expect(!bad.stderr.contains(":1:1"), "\(bad.stderr)")
        let single = try rnnExp(["report", a, "--metric", "mean_grad_cs"])
        #expect(single.status == 2 && single.stderr.hasPrefix("--metric mean_grad_cs: not a column"), "\(single.stderr)")
    }

    /// Bug 5: the algorithm × tau_max heatmap draws an online algorithm (which takes no tau_max)
    /// as one cell across its row, with its value; no `none` column, and no cell of a finished
    /// comparison reads "not run".
    @Test func heatmapShowsNotApplicableAsNotApplicable() throws {
        let dir = scratchDirectory("heatmap-na")
        writeFile("\(dir)/h.yaml", Issue29Tests.grown.replacingOccurrences(of: "name: grown", with: "name: heat")
                  .replacingOccurrences(of: "sweep:\n", with: "sweep:\n  training.algorithm: [bptt, rtrl, snap1]\n")
                  .replacingOccurrences(of: ", tau_max: 2}", with: "}"))
        let r = try rnnExp(["run", "\(dir)/h.yaml", "--results", "\(dir)/r", "--quiet", "--jobs", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let html = readFile("\(dir)/r/heat/report.html") ?? ""
        let map = html.components(separatedBy: "over <code>algorithm</code> × <code>tau_max</code></h2>").dropFirst().first?
            .components(separatedBy: "<figure>").dropFirst().first?.components(separatedBy: "</figure>").first ?? ""
        #expect(!map.isEmpty)
        #expect(!map.contains("not run") && !map.contains(">none</text>"), "\(map)")
        #expect(map.components(separatedBy: "(no tau_max)</text>").count - 1 == 2, "one spanning cell per online algorithm")
        // The spanning cell's value is the mean of the algorithm's runs (summary.csv).
        let summary = parseCSV(readFile("\(dir)/r/heat/summary.csv") ?? "")
        let rtrl = summary.rows.filter { $0[summary.header.firstIndex(of: "algorithm")!] == "rtrl" }
            .map { Double($0[summary.header.firstIndex(of: "final_val_loss")!])! }
        #expect(rtrl.count == 2)
        #expect(map.contains("final_val_loss = \(rtrl.reduce(0, +) / 2) (rtrl takes no tau_max"), "\(map)")
    }
}
