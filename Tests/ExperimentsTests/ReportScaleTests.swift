import Foundation
import RNNTestSupport
import Testing
@testable import Experiments

/// Issue 34: a report that stays readable and light at thousands of runs. The results folders are
/// generated here (the files `rnn-exp run` writes, with made-up numbers), not trained.
@Suite("Report at scale", .serialized)
struct ReportScaleTests {
    /// A results folder as `rnn-exp run` leaves it: experiment.json, summary.csv,
    /// summary-by-setting.csv, and each run's folder (status, metrics.csv). `lr` values from 1e-4
    /// to 2e-2 (log spaced) × `seeds`, times the values of `second` (a second setting) when given;
    /// runs with lr above 0.015 diverge at epoch 1 for odd seeds.
    static func generate(in dir: String, lrs: Int, seeds: Int, epochs: Int, second: (key: String, values: [String])? = nil,
                         diagnostics: Bool = false, lags: [[Int]]? = nil) -> String {
        let folder = "\(dir)/gen"
        let lrValues = (0..<lrs).map { i in String(format: "%.4g", 1e-4 * pow(200, Double(i) / Double(max(lrs - 1, 1)))) }
        var keys = ["training.seed", "training.optimizer.lr"]
        var values: [String: [String]] = ["training.seed": (1...seeds).map(String.init), "training.optimizer.lr": lrValues]
        if let second { keys.append(second.key); values[second.key] = second.values }
        let seconds = second?.values ?? [""]
        func csvField(_ s: String) -> String { s.contains(",") ? "\"\(s)\"" : s }
        var summary = "run,status,dataset,tau_max,tau_b,lr,seed,epochs,final_train_loss,final_val_loss,best_val_loss,best_epoch,wall_s,sample_steps_per_s"
        summary += (second.map { ",\($0.key)" } ?? "") + (diagnostics ? ",mean_grad_cos" : "") + ",baseline_loss,floor_loss\n"
        let measures = ["final_val_loss"] + (diagnostics ? ["mean_grad_cos"] : [])
        var bySetting = "training.optimizer.lr" + (second.map { ",\($0.key)" } ?? "") + ",runs,done"
        for m in measures { bySetting += ["mean", "sd", "min", "max", "ci95", "n"].map { ",\(m)_\($0)" }.joined() }
        bySetting += "\n"
        var files = 0
        for lr in lrValues {
            for sv in seconds {
                var finals: [Double] = [], cosines: [Double] = []
                for seed in 1...seeds {
                    let rate = Double(lr) ?? 0
                    let diverged = rate > 0.015 && seed % 2 == 1
                    let id = "seed=\(seed),lr=\(lr)\(sv.isEmpty ? "" : ",b=\(sv)")-\(String(format: "%06x", (seed * 7919 + files) & 0xffffff))"
                    files += 1
                    let final = 2.5 + 20 * exp(-rate * 300) + Double(seed % 5) * 0.3 + (Double(sv) ?? 0) * 0.1
                    let cosine = 0.9 - rate * 10 - Double(seed % 3) * 0.01
                    var metrics = "epoch,updates,train_loss,val_loss,grad_norm,wall_s,sample_steps_per_s\n"
                    for e in 0...(diverged ? 0 : epochs) {
                        let t = Double(e) / Double(max(epochs, 1))
                        let v = 22 - (22 - final) * t
                        metrics += "\(e),\(e * 50),\(v + 0.5),\(v),\(e == 0 ? "" : "1.5"),\(0.001 * Double(e + 1)),\(e == 0 ? "" : "5e6")\n"
                    }
                    writeFile("\(folder)/runs/\(id)/metrics.csv", metrics)
                    writeFile("\(folder)/runs/\(id)/status", diverged ? "diverged: epoch 1: loss is inf at step 10\n" : "done\n")
                    let status = diverged ? "diverged" : "done"
                    let shown = diverged ? "22" : String(final)
                    summary += "\(csvField(id)),\(status),count-ones,10,1,\(lr),\(seed),\(epochs),\(shown),\(shown),\(shown),\(diverged ? 0 : epochs),0.005,5e6"
                    summary += (second == nil ? "" : ",\(sv)") + (diagnostics ? ",\(diverged ? "" : String(cosine))" : "") + ",2.5,\n"
                    if !diverged { finals.append(final); cosines.append(cosine) }
                }
                bySetting += "\(lr)\(sv.isEmpty ? "" : ",\(sv)"),\(seeds),\(finals.count)"
                for v in [finals] + (diagnostics ? [cosines] : []) {
                    let mean = v.reduce(0, +) / Double(max(v.count, 1))
                    let sd = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(v.count - 1, 1))).squareRoot()
                    bySetting += ",\(mean),\(sd),\(v.min() ?? 0),\(v.max() ?? 0),\(sd),\(v.count)"
                }
                bySetting += "\n"
            }
        }
        writeFile("\(folder)/summary.csv", summary)
        writeFile("\(folder)/summary-by-setting.csv", bySetting)
        let record = ExperimentRecord(name: "gen", description: "generated", file: "\(dir)/gen.yaml", sweptKeys: keys, sweepValues: values,
                                      gridSize: files, runs: files, metric: "", skipped: [], explain: [], dependencyLags: lags)
        writeFile("\(folder)/experiment.json", String(decoding: record.encoded(), as: UTF8.self))
        return folder
    }

    /// The section of the final values against lr.
    static func sweep(_ html: String) -> String {
        html.components(separatedBy: "<h2>Final values against <code>lr</code></h2>").dropFirst().first?.components(separatedBy: "<h2>").first ?? ""
    }

    /// Every `<svg>`'s width and viewBox width, in px.
    static func svgWidths(_ html: String) -> [Double] {
        html.components(separatedBy: "<svg").dropFirst().flatMap { tag -> [Double] in
            let open = tag.prefix { $0 != ">" }
            var widths: [Double] = []
            if let w = open.components(separatedBy: " width=\"").dropFirst().first?.prefix(while: { $0 != "\"" }) { widths.append(Double(w) ?? .infinity) }
            if let v = open.components(separatedBy: "viewBox=\"").dropFirst().first?.prefix(while: { $0 != "\"" }) {
                widths.append(Double(v.split(separator: " ").dropFirst(2).first ?? "") ?? .infinity)
            }
            return widths
        }
    }

    /// The legend entries (line samples) of each legend block.
    static func legendEntries(_ html: String) -> [Int] {
        html.components(separatedBy: "<div class=\"legend\">").dropFirst().map { block in
            (block.components(separatedBy: "</div></div>").first ?? "").components(separatedBy: "aria-hidden=\"true\"><line").count - 1
        }
    }

    static func check(_ html: String, runs: Int, label: String) {
        let bytes = html.utf8.count
        #expect(bytes < 1_500_000, "\(label): report.html is \(bytes) bytes")
        // No legend lists the 200 settings: a colour bar and the highlighted few instead.
        let entries = legendEntries(html)
        #expect(!entries.isEmpty && entries.allSatisfy { $0 <= 12 }, "\(label): legend entries \(entries)")
        #expect(html.contains("class=\"colourbar\"") && html.contains("200 settings: one thin line each"), "\(label)")
        #expect(html.contains(">best final_val_loss ") && html.contains(">median ") && html.contains(">worst "), "\(label)")
        // Every chart fits the page (1140 px): SVG widths and viewBoxes.
        let widths = svgWidths(html)
        #expect(widths.count >= 4 && widths.allSatisfy { $0 <= HTMLReport.pageWidth }, "\(label): svg widths \(widths.filter { $0 > HTMLReport.pageWidth })")
        // The 1-D numeric sweep is a line against lr on a log axis, not a one-row heatmap.
        let sweep = html.components(separatedBy: "<h2>Final values against <code>lr</code></h2>").dropFirst().first?.components(separatedBy: "<h2>").first ?? ""
        #expect(sweep.contains("aria-label=\"final_val_loss\"") && sweep.contains(">lr (log)</text>"), "\(label)")
        #expect(!html.contains("over <code>lr</code></h2>"), "\(label): a one-row heatmap")
        // The run table: the best, the worst and the first not done, linked to the full table.
        let rowsShown = html.components(separatedBy: "<tr").count - 1
        #expect(rowsShown < 400, "\(label): \(rowsShown) table rows")
        #expect(html.contains("\(runs) runs: the 25 best and the 25 worst by <code>final_val_loss</code>") && html.contains("<a href=\"summary.csv\">"), "\(label)")
    }

    /// The issue's sweep: 30 seeds × 200 learning rates = 6,000 runs of 1 epoch, then of 30.
    @Test(arguments: [1, 30]) func sixThousandRunsMakeABoundedReport(epochs: Int) throws {
        let dir = scratchDirectory("report-scale-\(epochs)")
        let folder = Self.generate(in: dir, lrs: 200, seeds: 30, epochs: epochs, diagnostics: epochs == 30)
        let lr = try #require(try HTMLReport(directory: folder).experiment.sweepValues["training.optimizer.lr"]?[100])
        let report = try HTMLReport(directory: folder, options: .init(highlight: ["lr=\(lr)"]))
        #expect(report.optionErrors().isEmpty, "\(report.optionErrors())")
        let html = report.html()
        Self.check(html, runs: 6000, label: "\(epochs) epochs")
        // --highlight: the named setting has its band and a legend entry.
        #expect(html.contains("<b>--highlight lr=\(lr)</b>: lr=\(lr)</span>"), "highlight entry")
        if epochs == 30 {
            // Diagnostics: mean_grad_cos against lr, and the per-setting alignment chart narrowed to the page.
            #expect(Self.sweep(html).contains("aria-label=\"mean_grad_cos\""))
            #expect(html.contains("<h2>Alignment with the true gradient</h2>"))
        }
        // The CLI writes the same, with the size bound.
        guard epochs == 1 else { return }
        let r = try rnnExp(["report", folder, "--highlight", "lr=\(lr)"])
        #expect(r.status == 0, "\(r.stderr)")
        let written = try #require(readFile("\(folder)/report.html"))
        #expect(written.utf8.count < 1_500_000)
    }

    /// A few settings keep their legend and every band; a 2-key sweep with many values of one
    /// key draws one line per value of the other, and a heatmap asked for with --x/--y narrows
    /// its cells to the page.
    @Test func fewSettingsKeepTheLegendAndHeatmapsFitThePage() throws {
        let dir = scratchDirectory("report-scale-few")
        let few = Self.generate(in: dir, lrs: 4, seeds: 2, epochs: 3)
        let html = try HTMLReport(directory: few).html()
        #expect(!html.contains("class=\"colourbar\""))
        #expect(Self.legendEntries(html) == [4], "\(Self.legendEntries(html))")
        #expect(html.contains("fill-opacity=\"0.18\""), "every setting's band")
        #expect(Self.sweep(html).contains("aria-label=\"final_val_loss\""))

        let dir2 = scratchDirectory("report-scale-two")
        let two = Self.generate(in: dir2, lrs: 150, seeds: 2, epochs: 1, second: ("training.tau_b", ["1", "2", "5"]))
        let lines = try HTMLReport(directory: two).html()
        let chart = lines.components(separatedBy: "against each swept setting</h2>").dropFirst().first ?? ""
        #expect(chart.contains(">tau_b=1</span>") && chart.contains(">tau_b=5</span>"), "one line per tau_b")
        #expect(!lines.contains("over <code>tau_b</code> × <code>lr</code>"), "no heatmap of 150 columns by default")
        let asked = try HTMLReport(directory: two, options: .init(x: "lr", y: "tau_b")).html()
        let map = asked.components(separatedBy: "over <code>tau_b</code> × <code>lr</code></h2>").dropFirst().first ?? ""
        #expect(!map.isEmpty)
        let widths = Self.svgWidths(asked)
        #expect(widths.allSatisfy { $0 <= HTMLReport.pageWidth }, "\(widths.filter { $0 > HTMLReport.pageWidth })")
        #expect(map.contains("hover for the value"), "cells too narrow for printed values")
    }

    /// Past 200 runs and 200 settings the tables show the best and the worst 25 (the best run
    /// first) and the runs not done, and link the files that hold them all.
    @Test func largeTablesShowTheBestAndTheWorst() throws {
        let dir = scratchDirectory("report-scale-tables")
        let folder = Self.generate(in: dir, lrs: 210, seeds: 1, epochs: 1)
        let report = try HTMLReport(directory: folder)
        let html = report.html()
        let best = try #require(report.rows.filter { $0.status == .done }.min { Double($0["final_val_loss"] ?? "") ?? 0 < Double($1["final_val_loss"] ?? "") ?? 0 })
        let bad = report.rows.filter { $0.status != .done }.count
        #expect(bad == 12, "lr above 0.015 diverges")
        let runs = try #require(html.components(separatedBy: "<h2>Runs</h2>").last)
        #expect(runs.hasPrefix("<p class=\"note\">210 runs: the 25 best and the 25 worst by <code>final_val_loss</code> and the 12 not done."), "\(runs.prefix(300))")
        let firstBest = runs.components(separatedBy: "<h3>Best 25</h3>").dropFirst().first?.components(separatedBy: "<td data-v=\"").dropFirst().first?.prefix { $0 != "\"" }
        #expect(firstBest.map(String.init) == HTMLReport.escape(best.run), "\(firstBest ?? "")")
        #expect(runs.components(separatedBy: "<tr class=").count - 1 == 25 + 25 + 12)
        let settings = try #require(html.components(separatedBy: "<h2>Settings</h2>").dropFirst().first?.components(separatedBy: "<h2>").first)
        #expect(settings.contains("210 settings: the 25 best and the 25 worst by the mean of <code>final_val_loss</code>; every one is in the file."))
        #expect(settings.contains("<a href=\"summary-by-setting.csv\">") && settings.components(separatedBy: "<tr>").count - 1 == 1 + 50)
    }

    /// A tau_max sweep's chart rings the points whose window reaches the dataset's longest lag
    /// (L = 4, tau_b = 1: all injected errors reach it from tau_max = 5), and says so.
    @Test func tauMaxChartMarksThePredictedFrontier() throws {
        let dir = scratchDirectory("report-scale-frontier")
        let folder = Self.generate(in: dir, lrs: 2, seeds: 2, epochs: 1, second: ("training.tau_max", ["1", "3", "5", "8"]), lags: [[0, 4]])
        let html = try HTMLReport(directory: folder).html()
        let section = html.components(separatedBy: "<h2><code>final_val_loss</code> against each swept setting</h2>").dropFirst().first?
            .components(separatedBy: "<h2>").first ?? ""
        #expect(section.contains("Pink rings: the predicted frontier for the dataset's longest dependency lag 4"), "\(section.prefix(800))")
        // tau_max 5 and 8 on each of the two lr lines; none on the lr chart.
        #expect(section.components(separatedBy: "<title>predicted: all injected errors reach").count - 1 == 4)
        #expect(!section.contains("<title>predicted: some"))
        #expect(section.contains(">lr=0.0001</span>") && section.contains(">lr=0.02</span>"), "one line per lr")
    }

    /// `--highlight` errors name the option and say what is wrong; exit 2, nothing written.
    @Test func highlightErrorsAreLocated() throws {
        let dir = scratchDirectory("report-scale-highlight")
        let folder = Self.generate(in: dir, lrs: 3, seeds: 2, epochs: 1)
        let cases: [(String, String)] = [
            ("lr", "--highlight lr: not KEY=VALUE (e.g. --highlight lr=0.001)"),
            ("lrr=0.0001", "--highlight lrr=0.0001: lrr is not a swept key; did you mean lr?"),
            ("lr=0.5", "--highlight lr=0.5: lr was not swept over 0.5 (its values: 0.0001, 0.001414, 0.02)"),
        ]
        for (value, message) in cases {
            let r = try rnnExp(["report", folder, "--highlight", value])
            #expect(r.status == 2, "\(value): \(r.stderr)")
            #expect(r.stderr == message + "\n1 error; nothing was written.\n", "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/report.html"))
        }
        let ok = try HTMLReport(directory: folder, options: .init(highlight: ["training.optimizer.lr=1e-4"]))
        #expect(ok.optionErrors().isEmpty)
        #expect(ok.highlightPairs.map(\.value) == ["0.0001"])
    }
}
