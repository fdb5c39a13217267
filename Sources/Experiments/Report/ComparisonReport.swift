import Foundation

/// `rnn-exp report A B …`: several experiments on one page — a table of their facts and best
/// settings, and their validation curves (and metric curves, when they share the metric) overlaid,
/// one colour per experiment, one dash per setting, with each task's baseline and floor.
public struct ComparisonReport {
    let reports: [HTMLReport]
    /// `--metric`: a summary.csv column shown per experiment and setting (mean ± sd, n over seeds).
    let metric: String?

    /// Reads each results folder as `HTMLReport` does.
    public init(directories: [String], metric: String? = nil) throws(HTMLReport.ReadError) {
        var reports: [HTMLReport] = []
        for d in directories { reports.append(try HTMLReport(directory: d)) }
        self.reports = reports
        self.metric = metric
    }

    /// `--metric` that is not a column of some experiment's summary.csv: an error naming the
    /// option (and the experiments that lack it), with a did-you-mean.
    public func optionErrors() -> [ConfigError] {
        guard let metric else { return [] }
        let lacking = reports.filter { !$0.header.contains(metric) }
        guard !lacking.isEmpty else { return [] }
        let header = lacking[0].header
        var e = HTMLReport.unknown("--metric", metric, among: header, suggesting: header, what: "a column of summary.csv",
                                   listName: "columns", whenNone: "\(lacking[0].dir)/summary.csv has no columns yet")
        if lacking.count < reports.count { e.message += " (in \(lacking.map(\.experiment.name).joined(separator: ", ")))" }
        return [e]
    }

    /// The `--metric` section: each experiment's settings with the column's mean ± sd and n over
    /// seeds (summary-by-setting.csv), the settings in the experiment's order.
    func metricTable() -> String {
        guard let metric else { return "" }
        let e = HTMLReport.escape
        var out = "<h2>\(e(metric))</h2><p class=\"note\">Per setting: mean ± sd over its seeds and n, the runs with a value (summary-by-setting.csv).</p>"
        out += "<div class=\"tablewrap\"><table><thead><tr>" + ["", "experiment", "setting", "mean ± sd", "n"].map { "<th>\($0)</th>" }.joined() + "</tr></thead><tbody>"
        for (i, r) in reports.enumerated() {
            let keys = r.settings.header.prefix { $0 != "runs" }
            for row in r.settings.rows {
                let label = HTMLReport.settingLabel(keys) { r.settings.field(row, $0) }
                func v(_ stat: String) -> Double? { r.settings.field(row, "\(metric)_\(stat)").flatMap(Double.init) }
                let text = v("mean").map { m in ChartScale.label(m) + (v("sd").map { " ± \(ChartScale.label($0))" } ?? "") } ?? "—"
                out += "<tr><td><span class=\"swatch\" style=\"background:\(Self.palette[i % Self.palette.count])\"></span></td>"
                out += "<td>\(e(r.experiment.name))</td><td>\(e(label.isEmpty ? "(one setting)" : label))</td><td>\(e(text))</td>"
                out += "<td>\(e(r.settings.field(row, "\(metric)_n") ?? ""))</td></tr>"
            }
        }
        return out + "</tbody></table></div>"
    }

    /// Categorical colours (Okabe–Ito, colour-blind safe), one per experiment.
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

    /// Where `report A B` writes by default: `comparison.html` in the folders' common parent.
    public static func defaultOutput(_ directories: [String]) -> String {
        let parents = directories.map { URL(fileURLWithPath: $0).standardizedFileURL.deletingLastPathComponent().path }
        var common = parents.first.map { $0.split(separator: "/", omittingEmptySubsequences: true).map(String.init) } ?? []
        for p in parents.dropFirst() {
            let parts = p.split(separator: "/").map(String.init)
            var n = 0
            while n < min(common.count, parts.count) && common[n] == parts[n] { n += 1 }
            common = Array(common.prefix(n))
        }
        return "/" + (common + ["comparison.html"]).joined(separator: "/")
    }

    public func write(to path: String) throws(WriteError) -> String {
        try AtomicFile.write(html(outputDirectory: (path as NSString).deletingLastPathComponent), to: path)
        return path
    }

    /// A link from the page's folder to an experiment's report.
    static func link(from base: String, to dir: String) -> String {
        let b = URL(fileURLWithPath: base.isEmpty ? "." : base).standardizedFileURL.path + "/"
        let d = URL(fileURLWithPath: dir).standardizedFileURL.path
        let target = d.hasPrefix(b) ? String(d.dropFirst(b.count)) : d
        return (target + "/report.html").addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? target
    }

    func html(outputDirectory: String) -> String {
        let e = HTMLReport.escape
        var body = "<h1>Comparison: \(reports.map { e($0.experiment.name) }.joined(separator: " · "))</h1>"
        // Facts and best settings.
        body += "<h2>Experiments</h2><p class=\"note\">Best setting: the lowest mean final_val_loss over its seeds (summary-by-setting.csv).</p>"
        body += "<div class=\"tablewrap\"><table><thead><tr>" + ["", "experiment", "runs done", "dataset", "baseline_loss", "floor_loss", "best setting", "final_val_loss", "metric"].map { "<th>\($0)</th>" }.joined() + "</tr></thead><tbody>"
        for (i, r) in reports.enumerated() {
            let done = r.rows.filter { $0.status == .done }.count
            let refs = r.lossReferences
            func ref(_ label: String) -> String { refs.first { $0.label == label }.map { ChartScale.label($0.value) } ?? "" }
            let best = bestSetting(r)
            let metricColumn = r.experiment.metric.isEmpty ? "" : "final_\(r.experiment.metric)"
            let metricText = best.flatMap { b in r.settings.field(b.row, "\(metricColumn)_mean").flatMap(Double.init) }
                .map { "\(r.experiment.metric) \(ChartScale.label($0))" } ?? ""
            body += "<tr><td><span class=\"swatch\" style=\"background:\(Self.palette[i % Self.palette.count])\"></span></td>"
            body += "<td><a href=\"\(Self.link(from: outputDirectory, to: r.dir))\">\(e(r.experiment.name))</a></td>"
            body += "<td>\(done) of \(r.experiment.runs)</td><td>\(e(r.rows.first?["dataset"] ?? ""))</td><td>\(ref("baseline"))</td><td>\(ref("floor"))</td>"
            body += "<td>\(e(best?.label ?? ""))</td><td>\(best.map { ChartScale.label($0.loss) } ?? "")</td><td>\(e(metricText))</td></tr>"
        }
        body += "</tbody></table></div>"
        body += metricTable()
        // Overlaid curves.
        body += "<h2>Validation curves</h2><p class=\"note\">Mean over seeds per setting; colour: the experiment, dash: its settings; dashed pink: each task's baseline and floor.</p>"
        body += legend()
        body += "<div class=\"charts\"><figure>\(chart("val_loss", references: true) { $0.valLoss })</figure>"
        let metrics = Set(reports.map(\.experiment.metric))
        if metrics.count == 1, let m = metrics.first, !m.isEmpty { body += "<figure>\(chart(m, references: false) { $0.metric })</figure>" }
        if reports.contains(where: { r in r.curves.values.contains { $0.contains { $0.gradCos != nil } } }) {
            body += "<figure>\(chart("grad_cos", references: false) { $0.gradCos })</figure>"
        }
        body += "</div>"
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>rnn-exp comparison: \(reports.map { e($0.experiment.name) }.joined(separator: ", "))</title>
            <style>
            body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f; max-width: 1180px; margin: 24px auto; padding: 0 20px; }
            h1 { font-size: 24px; margin: 0 0 6px; } h2 { font-size: 19px; margin: 30px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
            .note { color: #555; font-size: 13px; } .charts { display: flex; flex-wrap: wrap; gap: 16px; } figure { margin: 0; }
            .legend { display: flex; flex-direction: column; gap: 3px; font-size: 13px; margin: 6px 0; }
            .legend-row { display: flex; flex-wrap: wrap; align-items: center; gap: 2px 14px; } .legend-row b { min-width: 130px; } .legend span { white-space: nowrap; }
            .legend svg { vertical-align: middle; margin-right: 4px; } .swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; }
            svg text { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
            table { border-collapse: collapse; font-size: 13px; } th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; white-space: nowrap; } th { background: #f4f4f6; } .tablewrap { overflow-x: auto; }
            </style>
            </head>
            <body>
            \(body)
            <p class="note">Written by rnn-exp \(RNNExpVersion.string) on \(HTMLReport.today()) from \(reports.map { e($0.dir) }.joined(separator: ", ")).</p>
            </body>
            </html>

            """
    }

    /// The setting with the lowest mean final_val_loss, from summary-by-setting.csv.
    func bestSetting(_ r: HTMLReport) -> (label: String, loss: Double, row: [String])? {
        let keys = r.settings.header.prefix { $0 != "runs" }
        var best: (label: String, loss: Double, row: [String])? = nil
        for row in r.settings.rows {
            guard let v = r.settings.field(row, "final_val_loss_mean").flatMap(Double.init), v.isFinite else { continue }
            if best == nil || v < best!.loss {
                let label = HTMLReport.settingLabel(keys) { r.settings.field(row, $0) }
                best = (label.isEmpty ? "(one setting)" : label, v, row)
            }
        }
        return best
    }

    func style(_ i: Int, _ j: Int) -> (color: String, dash: String) {
        (Self.palette[i % Self.palette.count], HTMLReport.dashPatterns[j % HTMLReport.dashPatterns.count])
    }

    func legend() -> String {
        var out = "<div class=\"legend\">"
        for (i, r) in reports.enumerated() {
            out += "<div class=\"legend-row\"><b style=\"color:\(Self.palette[i % Self.palette.count])\">\(HTMLReport.escape(r.experiment.name))</b>"
            for (j, s) in r.series().list.enumerated() {
                let st = style(i, j)
                out += "<span><svg width=\"30\" height=\"10\" aria-hidden=\"true\"><line x1=\"1\" y1=\"5\" x2=\"29\" y2=\"5\" stroke=\"\(st.color)\" stroke-width=\"3\"\(st.dash.isEmpty ? "" : " stroke-dasharray=\"\(st.dash)\"")/></svg>\(HTMLReport.escape(s.label))</span>"
            }
            out += "</div>"
        }
        return out + "</div>"
    }

    func chart(_ title: String, references: Bool, _ pick: (EpochRecord) -> Double?) -> String {
        var lines: [(label: String, color: String, dash: String, points: [(Double, Double, Double, Double)])] = []
        var all: [Double] = [], epochs: [Double] = []
        var refs: [(label: String, value: Double)] = []
        for (i, r) in reports.enumerated() {
            for (j, s) in r.series().list.enumerated() {
                var byEpoch: [Double: [Double]] = [:]
                for run in s.runs { for p in r.curves[run] ?? [] { if let v = pick(p), v.isFinite { byEpoch[Double(p.epoch), default: []].append(v) } } }
                let pts = byEpoch.keys.sorted().map { k -> (Double, Double, Double, Double) in
                    let v = byEpoch[k]!
                    return (k, v.reduce(0, +) / Double(v.count), v.min()!, v.max()!)
                }
                all += byEpoch.values.flatMap { $0 }
                epochs += byEpoch.keys
                let st = style(i, j)
                lines.append(("\(r.experiment.name): \(s.label)", st.color, st.dash, pts))
            }
            if references {
                // Named by experiment unless every experiment has the same one.
                let shared = reports.allSatisfy { o in o.lossReferences.map(\.value) == r.lossReferences.map(\.value) }
                for ref in r.lossReferences where !refs.contains(where: { abs($0.value - ref.value) < 1e-9 }) {
                    refs.append((shared ? ref.label : "\(r.experiment.name) \(ref.label)", ref.value))
                }
            }
        }
        return LineChart(title: title, xLabel: "epoch", yLabel: title, series: lines, yValues: all, xValues: epochs, references: refs).svg()
    }
}
