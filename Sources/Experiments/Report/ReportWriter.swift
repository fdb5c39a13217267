import Foundation

/// Writes `report.html` for one experiment's results folder: one self-contained file (inline SVG
/// and CSS, a few lines of inline script for sorting the table, nothing fetched) with the
/// experiment's facts, learning curves (mean over seeds with a min–max band), heatmaps of the
/// final metric over pairs of swept settings (averaged over seeds), and the summary table.
public struct ReportWriter {
    public struct Options: Sendable {
        public var x: String?
        public var y: String?
        public var metric: String?
        public var group: String?
        public init(x: String? = nil, y: String? = nil, metric: String? = nil, group: String? = nil) {
            self.x = x; self.y = y; self.metric = metric; self.group = group
        }
    }

    struct Experiment {
        var name = "", description = "", metric = ""
        var sweptKeys: [String] = []
        var sweepValues: [String: [String]] = [:]
        var gridSize = 0
        var skipped: [[String: String]] = []
        /// The explain grids (SPEC 7) of the distinct (tau_b, tau_max).
        var grids: [ExplainGrid] = []
        /// The dataset's dependency lags, when every run shares them.
        var lags: [ClosedRange<Int>]? = nil
    }

    /// One update's space × time grid, as `experiment.json` keeps it.
    struct ExplainGrid {
        var tauB = 0, tauMax = 0, updateStep = 0, previousStep = 0, windowStart = 0
        var injected: [Int] = []
        var layers: [(type: String, reached: [Int])] = []
    }

    let dir: String
    let options: Options
    var experiment = Experiment()
    var header: [String] = []
    var rows: [SummaryRow] = []
    var curves: [String: [(epoch: Double, train: Double, val: Double)]] = [:]
    /// `summary-by-setting.csv`.
    var settings = ResultsCSV(path: "")

    /// Reads the experiment's `experiment.json`, `summary.csv` and `metrics.csv`.
    public init(directory: String, options: Options = Options()) throws(WriteError) {
        dir = directory
        self.options = options
        guard let meta = FileManager.default.contents(atPath: "\(dir)/experiment.json"),
              let json = try? JSONSerialization.jsonObject(with: meta) as? [String: Any] else {
            throw WriteError(path: "\(dir)/experiment.json", reason: "missing or unreadable: is this a results folder written by rnn-exp run?")
        }
        experiment.name = json["name"] as? String ?? ""
        experiment.description = json["description"] as? String ?? ""
        experiment.metric = json["metric"] as? String ?? ""
        experiment.sweptKeys = json["swept_keys"] as? [String] ?? []
        experiment.sweepValues = json["sweep_values"] as? [String: [String]] ?? [:]
        experiment.gridSize = json["grid_size"] as? Int ?? 0
        experiment.skipped = (json["skipped"] as? [[String: Any]] ?? []).map { $0["values"] as? [String: String] ?? [:] }
        experiment.grids = (json["explain"] as? [[String: Any]] ?? []).compactMap { g in
            guard let n = g["update_step"] as? Int, let p = g["previous_step"] as? Int, let a = g["window_start"] as? Int,
                  let tb = g["tau_b"] as? Int, let tm = g["tau_max"] as? Int, let injected = g["injected"] as? [Int],
                  let layers = g["layers"] as? [[String: Any]] else { return nil }
            return ExplainGrid(tauB: tb, tauMax: tm, updateStep: n, previousStep: p, windowStart: a, injected: injected,
                               layers: layers.map { ($0["type"] as? String ?? "?", $0["reached"] as? [Int] ?? []) })
        }
        experiment.lags = (json["dependency_lags"] as? [[Int]])?.compactMap { $0.count == 2 && $0[0] <= $0[1] ? $0[0]...$0[1] : nil }
        settings = ResultsCSV(path: "\(dir)/summary-by-setting.csv")
        let summary = ResultsCSV(path: "\(dir)/summary.csv")
        header = summary.header
        rows = summary.rows.map { SummaryRow(fields: $0, table: summary) }
        let metrics = ResultsCSV(path: "\(dir)/metrics.csv")
        for r in metrics.rows {
            guard let run = metrics.field(r, "run"), let e = metrics.field(r, "epoch").flatMap(Double.init) else { continue }
            let train = metrics.field(r, "train_loss").flatMap(Double.init) ?? .nan
            let val = metrics.field(r, "val_loss").flatMap(Double.init) ?? .nan
            curves[run, default: []].append((e, train, val))
        }
    }

    public func write() throws(WriteError) -> String {
        let path = "\(dir)/report.html"
        try AtomicFile.write(html(), to: path)
        return path
    }

    // MARK: Helpers

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Display names in the seed's notation: `training.tau_max` → `tau_max`.
    static func short(_ key: String) -> String { SweepGrid.shortNames([key])[0] }

    var seedKeys: [String] { experiment.sweptKeys.filter(SweepGrid.isSeedKey) }
    var settingKeys: [String] { experiment.sweptKeys.filter { !SweepGrid.isSeedKey($0) } }

    /// The metric column shown in heatmaps: the option, the dataset's metric, else final_val_loss.
    var metricColumn: String {
        if let m = options.metric { return m }
        if !experiment.metric.isEmpty, header.contains("final_\(experiment.metric)") { return "final_\(experiment.metric)" }
        return "final_val_loss"
    }

    /// Numeric position of a swept value (`full` after every number).
    static func numeric(_ s: String) -> Double? { s == "full" ? .infinity : Double(s) }

    // MARK: HTML

    func html() -> String {
        let counts = Dictionary(grouping: rows, by: \.status).mapValues(\.count)
        let wall = rows.compactMap(\.wallSeconds).reduce(0, +)
        var facts = "grid of \(experiment.gridSize) point\(experiment.gridSize == 1 ? "" : "s")"
        if !experiment.sweptKeys.isEmpty { facts += " over " + experiment.sweptKeys.map { "<code>\(Self.escape(Self.short($0)))</code>" }.joined(separator: " × ") }
        facts += " · \(counts["done"] ?? 0) done"
        for s in ["diverged", "failed"] where (counts[s] ?? 0) > 0 { facts += " · <b class=\"bad\">\(counts[s]!) \(s)</b>" }
        if !experiment.skipped.isEmpty { facts += " · \(experiment.skipped.count) skipped (tau_b &gt; tau_max)" }
        facts += " · total training time \(DurationText.format(wall))"
        var body = """
            <h1>\(Self.escape(experiment.name))</h1>
            \(experiment.description.isEmpty ? "" : "<p class=\"desc\">\(Self.escape(experiment.description))</p>")
            <p class="facts">\(facts)</p>

            """
        body += learningCurves()
        body += heatmaps()
        if header.contains("mean_grad_cos") { body += heatmaps(metric: "mean_grad_cos") }
        body += creditProfile()
        body += explainGrids()
        body += settingsTable()
        body += table()
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>rnn-exp report: \(Self.escape(experiment.name))</title>
            <style>
            body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f; max-width: 1180px; margin: 24px auto; padding: 0 20px; }
            h1 { font-size: 26px; margin: 0 0 6px; } h2 { font-size: 19px; margin: 30px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
            .desc { margin: 4px 0 8px; max-width: 900px; } .facts { color: #444; } .bad { color: #b00020; } .note { color: #555; font-size: 13px; }
            code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
            .charts { display: flex; flex-wrap: wrap; gap: 16px; } figure { margin: 0; } figcaption { font-size: 13px; color: #333; }
            .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; margin: 6px 0; } .legend span { white-space: nowrap; }
            .swatch { display: inline-block; width: 18px; height: 3px; vertical-align: middle; margin-right: 5px; }
            svg text { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
            table { border-collapse: collapse; font-size: 12.5px; } th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; white-space: nowrap; }
            th { background: #f4f4f6; cursor: pointer; position: sticky; top: 0; } td:first-child, th:first-child { text-align: left; }
            tr.diverged td, tr.failed td { background: #fdecee; } .tablewrap { overflow-x: auto; }
            @media print { body { max-width: none; margin: 0; } th { position: static; } .tablewrap { overflow: visible; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
            </style>
            </head>
            <body>
            \(body)
            <p class="note">Written by rnn-exp \(RNNExpVersion.string) on \(Self.today()). Sources: summary.csv, metrics.csv and runs/ in this folder.</p>
            <script>
            document.querySelectorAll("table.sortable th").forEach(function (th, col) {
              th.addEventListener("click", function () {
                var tbody = th.closest("table").tBodies[0], rows = Array.prototype.slice.call(tbody.rows);
                var dir = th.dataset.dir === "asc" ? -1 : 1; th.dataset.dir = dir === 1 ? "asc" : "desc";
                rows.sort(function (a, b) {
                  var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
                  var nx = parseFloat(x), ny = parseFloat(y);
                  if (!isNaN(nx) && !isNaN(ny)) return dir * (nx - ny);
                  return dir * x.localeCompare(y);
                });
                rows.forEach(function (r) { tbody.appendChild(r); });
              });
            });
            </script>
            </body>
            </html>

            """
    }

    static func today() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.string(from: Date())
    }

    // MARK: Learning curves

    struct Series {
        var label: String
        var group: String
        var runs: [String]
    }

    func series() -> (groupKey: String?, list: [Series]) {
        let groupKey = options.group ?? settingKeys.first
        var order: [String] = []
        var byLabel: [String: Series] = [:]
        for r in rows {
            let id = r.run
            let label = settingKeys.map { "\(Self.short($0))=\(r[$0] ?? "")" }.joined(separator: ", ")
            let group = groupKey.flatMap { r[$0] } ?? ""
            if byLabel[label] == nil { order.append(label); byLabel[label] = Series(label: label.isEmpty ? "all runs" : label, group: group, runs: []) }
            byLabel[label]!.runs.append(id)
        }
        return (groupKey, order.map { byLabel[$0]! })
    }

    func learningCurves() -> String {
        let (groupKey, list) = series()
        guard !list.isEmpty else { return "<h2>Learning curves</h2><p>No finished runs yet.</p>" }
        // Colours by group value, in sweep order.
        let groupValues = groupKey.flatMap { experiment.sweepValues[$0] } ?? Array(Set(list.map(\.group))).sorted()
        func color(_ g: String) -> String {
            let i = groupValues.firstIndex(of: g) ?? 0
            return Viridis.color(groupValues.count > 1 ? 0.85 * Double(i) / Double(groupValues.count - 1) : 0.35)
        }
        var dashes: [String: Int] = [:]
        var seenInGroup: [String: Int] = [:]
        for s in list {
            dashes[s.label] = seenInGroup[s.group, default: 0]
            seenInGroup[s.group, default: 0] += 1
        }
        let dashPatterns = ["", "6 4", "2 3", "8 3 2 3"]
        func chart(_ title: String, _ pick: ((epoch: Double, train: Double, val: Double)) -> Double) -> String {
            var lines: [(label: String, color: String, dash: String, points: [(Double, Double, Double, Double)])] = []
            var all: [Double] = [], epochs: [Double] = []
            for s in list {
                var byEpoch: [Double: [Double]] = [:]
                for run in s.runs { for p in curves[run] ?? [] { byEpoch[p.epoch, default: []].append(pick(p)) } }
                var pts: [(Double, Double, Double, Double)] = []
                for e in byEpoch.keys.sorted() {
                    let v = byEpoch[e]!.filter { $0.isFinite }
                    guard !v.isEmpty else { continue }
                    pts.append((e, v.reduce(0, +) / Double(v.count), v.min()!, v.max()!))
                    all += v
                    epochs.append(e)
                }
                lines.append((s.label, color(s.group), dashPatterns[(dashes[s.label] ?? 0) % dashPatterns.count], pts))
            }
            return LineChart(title: title, xLabel: "epoch", yLabel: title, series: lines, yValues: all, xValues: epochs).svg()
        }
        var legend = "<div class=\"legend\">"
        for s in list {
            let c = color(s.group), dash = dashPatterns[(dashes[s.label] ?? 0) % dashPatterns.count]
            legend += "<span><svg width=\"22\" height=\"8\"><line x1=\"1\" y1=\"4\" x2=\"21\" y2=\"4\" stroke=\"\(c)\" stroke-width=\"2.5\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/></svg>\(Self.escape(s.label))</span>"
        }
        legend += "</div>"
        let seeds = seedKeys.isEmpty ? "" : " Lines are the mean over seeds (<code>\(seedKeys.map(Self.short).joined(separator: ", "))</code>); the band spans their minimum to maximum."
        return """
            <h2>Learning curves</h2>
            <p class="note">Loss per epoch (epoch 0: the initial weights)\(groupKey.map { ", coloured by <code>\(Self.escape(Self.short($0)))</code>" } ?? "").\(seeds)</p>
            \(legend)
            <div class="charts">
            <figure>\(chart("train_loss") { $0.train })</figure>
            <figure>\(chart("val_loss") { $0.val })</figure>
            </div>

            """
    }

    // MARK: Heatmaps

    func heatmaps(metric: String? = nil) -> String {
        let numericKeys = settingKeys.filter { k in (experiment.sweepValues[k] ?? []).allSatisfy { Self.numeric($0) != nil } && (experiment.sweepValues[k]?.count ?? 0) > 1 }
        var pairs: [(String, String)] = []
        if let x = options.x, let y = options.y { pairs = [(x, y)] }
        else {
            for (i, a) in numericKeys.enumerated() { for b in numericKeys[(i + 1)...] { pairs.append((a, b)) } }
            // tau_max on the x axis and tau_b on y when both are swept (the seed's picture).
            pairs = pairs.map { p in p.1.hasSuffix("tau_max") && p.0.hasSuffix("tau_b") ? (p.1, p.0) : p }
        }
        if pairs.isEmpty, let only = numericKeys.first ?? settingKeys.first { return heatmap(x: only, y: nil, metric: metric) }
        guard !pairs.isEmpty else { return "" }
        return pairs.map { heatmap(x: $0.0, y: $0.1, metric: metric) }.joined()
    }

    /// SPEC 3.2's predicted frontier for a (tau_max, tau_b) cell and the dataset's longest
    /// dependency lag L: some injected errors reach it iff tau_max >= L + 1, all iff
    /// tau_max - tau_b >= L. Nil when the cell's settings or the lags are unknown.
    func predictedReach(tauMax: String, tauB: String?) -> (some: Bool, all: Bool)? {
        guard let lag = experiment.lags?.map(\.upperBound).max(), let tb = tauB.flatMap({ Int($0) }) else { return nil }
        guard let tm = tauMax == "full" ? Int.max / 2 : Int(tauMax) else { return nil }
        return (tm >= lag + 1, tm - tb >= lag)
    }

    /// The cell's value from `summary-by-setting.csv` when the heatmap's axes are exactly the
    /// swept settings (every other swept key is a seed) and the file has the metric's mean.
    func settingMean(_ metric: String, x: (key: String, value: String), y: (key: String, value: String)?) -> Double? {
        guard Set(settingKeys) == Set([x.key] + (y.map { [$0.key] } ?? [])), settings.header.contains("\(metric)_mean") else { return nil }
        let row = settings.rows.first { settings.field($0, x.key) == x.value && (y == nil || settings.field($0, y!.key) == y!.value) }
        return row.flatMap { settings.field($0, "\(metric)_mean") }.flatMap(Double.init)
    }

    func heatmap(x: String, y: String?, metric chosen: String? = nil) -> String {
        let metric = chosen ?? metricColumn
        let xs = experiment.sweepValues[x] ?? []
        let ys = y.flatMap { experiment.sweepValues[$0] } ?? [""]
        struct Cell { var value: Double?; var state: String }
        var cells: [[Cell]] = []
        var values: [Double] = []
        for yv in ys {
            var row: [Cell] = []
            for xv in xs {
                let matching = rows.filter { $0[x] == xv && (y == nil || $0[y!] == yv) }
                let done = matching.filter { $0.status == RunStatus.done.word }.compactMap { Double($0[metric] ?? "") }.filter { $0.isFinite }
                if !done.isEmpty {
                    let mean = settingMean(metric, x: (x, xv), y: y.map { ($0, yv) }) ?? done.reduce(0, +) / Double(done.count)
                    values.append(mean)
                    let bad = matching.count - done.count
                    row.append(Cell(value: mean, state: bad > 0 ? "\(bad) diverged/failed" : ""))
                } else if let s = matching.first(where: { $0.status == "diverged" || $0.status == "failed" })?.status {
                    row.append(Cell(value: nil, state: s))
                } else if experiment.skipped.contains(where: { $0[x] == xv && (y == nil || $0[y!] == yv) }) {
                    row.append(Cell(value: nil, state: "skipped"))
                } else {
                    row.append(Cell(value: nil, state: "not run"))
                }
            }
            cells.append(row)
        }
        let lo = values.min() ?? 0, hi = values.max() ?? 1
        func t(_ v: Double) -> Double { hi > lo ? (v - lo) / (hi - lo) : 0.5 }
        let cw = 78.0, ch = 42.0, left = 96.0, top = 34.0
        let width = left + cw * Double(xs.count) + 200, height = top + ch * Double(ys.count) + 58
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\">"
        svg += "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f3f3f3\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#c8c8c8\" stroke-width=\"2\"/></pattern>"
        svg += "<linearGradient id=\"viridis\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">" + (0...8).map { "<stop offset=\"\(Double($0) / 8)\" stop-color=\"\(Viridis.color(Double($0) / 8))\"/>" }.joined() + "</linearGradient></defs>"
        for (j, yv) in ys.enumerated() {
            let cy = top + ch * Double(j)
            if y != nil { svg += "<text x=\"\(left - 8)\" y=\"\(cy + ch / 2 + 4)\" text-anchor=\"end\" font-size=\"13\">\(Self.escape(yv))</text>" }
            for (i, _) in xs.enumerated() {
                let cx = left + cw * Double(i)
                let c = cells[j][i]
                if let v = c.value {
                    let tv = t(v)
                    svg += "<rect x=\"\(cx)\" y=\"\(cy)\" width=\"\(cw - 2)\" height=\"\(ch - 2)\" fill=\"\(Viridis.color(tv))\"><title>\(Self.escape("\(metric) = \(v)\(c.state.isEmpty ? "" : " (\(c.state))")"))</title></rect>"
                    svg += "<text x=\"\(cx + cw / 2 - 1)\" y=\"\(cy + ch / 2 + 4)\" text-anchor=\"middle\" font-size=\"13\" fill=\"\(Viridis.wantsDarkText(tv) ? "#111" : "#fff")\">\(ChartScale.label(v))\(c.state.isEmpty ? "" : "*")</text>"
                } else {
                    let fill = c.state == "skipped" || c.state == "not run" ? "url(#hatch)" : "#f6d5da"
                    svg += "<rect x=\"\(cx)\" y=\"\(cy)\" width=\"\(cw - 2)\" height=\"\(ch - 2)\" fill=\"\(fill)\"/>"
                    svg += "<text x=\"\(cx + cw / 2 - 1)\" y=\"\(cy + ch / 2 + 4)\" text-anchor=\"middle\" font-size=\"11.5\" fill=\"\(c.state == "skipped" || c.state == "not run" ? "#666" : "#b00020")\">\(Self.escape(c.state))</text>"
                }
            }
        }
        // The predicted frontier (tau_max on x): outline the cells whose window reaches the
        // dataset's longest dependency, dashed where some injected errors do, solid where all do.
        var frontier = false
        if x.hasSuffix("tau_max") {
            for (j, yv) in ys.enumerated() {
                for (i, xv) in xs.enumerated() {
                    let tauB = y?.hasSuffix("tau_b") == true ? yv
                        : rows.first(where: { $0[x] == xv && (y == nil || $0[y!] == yv) })?["tau_b"]
                    guard let reach = predictedReach(tauMax: xv, tauB: tauB), reach.some else { continue }
                    frontier = true
                    let cx = left + cw * Double(i), cy = top + ch * Double(j)
                    svg += "<rect x=\"\(cx + 1.5)\" y=\"\(cy + 1.5)\" width=\"\(cw - 5)\" height=\"\(ch - 5)\" fill=\"none\" stroke=\"#d81b60\" stroke-width=\"2.5\"\(reach.all ? "" : " stroke-dasharray=\"5 3\"")><title>predicted: \(reach.all ? "all" : "some") injected errors reach the dependency</title></rect>"
                }
            }
        }
        for (i, xv) in xs.enumerated() {
            svg += "<text x=\"\(left + cw * Double(i) + cw / 2 - 1)\" y=\"\(top + ch * Double(ys.count) + 16)\" text-anchor=\"middle\" font-size=\"13\">\(Self.escape(xv))</text>"
        }
        svg += "<text x=\"\(left + cw * Double(xs.count) / 2)\" y=\"\(top + ch * Double(ys.count) + 40)\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\">\(Self.escape(Self.short(x)))</text>"
        if let y {
            svg += "<text transform=\"translate(18,\(top + ch * Double(ys.count) / 2)) rotate(-90)\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\">\(Self.escape(Self.short(y)))</text>"
        }
        // Colour scale legend.
        let lx = left + cw * Double(xs.count) + 28, barH = max(ch * Double(ys.count) - 2, 60)
        svg += "<rect x=\"\(lx)\" y=\"\(top)\" width=\"16\" height=\"\(barH)\" fill=\"url(#viridis)\"/>"
        svg += "<text x=\"\(lx + 22)\" y=\"\(top + 10)\" font-size=\"12\">\(values.isEmpty ? "" : ChartScale.label(hi))</text>"
        svg += "<text x=\"\(lx + 22)\" y=\"\(top + barH)\" font-size=\"12\">\(values.isEmpty ? "" : ChartScale.label(lo))</text>"
        svg += "<text x=\"\(lx)\" y=\"\(top - 12)\" font-size=\"12\">\(Self.escape(metric))</text>"
        svg += "</svg>"
        let averaged = (seedKeys.isEmpty ? [] : ["seeds"]) + settingKeys.filter { $0 != x && $0 != y }.map(Self.short)
        let title = y.map { "<code>\(Self.escape(metric))</code> over <code>\(Self.escape(Self.short($0)))</code> × <code>\(Self.escape(Self.short(x)))</code>" }
            ?? "<code>\(Self.escape(metric))</code> over <code>\(Self.escape(Self.short(x)))</code>"
        return """
            <h2>\(title)</h2>
            <p class="note">Each cell: the final value\(averaged.isEmpty ? "" : ", averaged over \(averaged.joined(separator: ", "))") over the done runs (summary-by-setting.csv's mean where the axes are the swept settings). Hatched: skipped (tau_b &gt; tau_max) or not run; red: every run diverged or failed; * some did.\(frontier ? " Pink outline: the predicted frontier for the dataset's longest dependency lag \(experiment.lags?.map(\.upperBound).max() ?? 0) (dashed: some injected errors reach it, tau_max ≥ L + 1; solid: all do, tau_max − tau_b ≥ L)." : "")</p>
            <figure>\(svg)</figure>

            """
    }

    // MARK: Table

    func table() -> String {
        guard !header.isEmpty else { return "" }
        var out = "<h2>Runs</h2><p class=\"note\">Click a column to sort. Each run links to its folder's files.</p><div class=\"tablewrap\"><table class=\"sortable\"><thead><tr>"
        out += header.map { "<th>\(Self.escape($0))</th>" }.joined() + "<th>files</th></tr></thead><tbody>"
        for r in rows {
            let status = r.status
            out += "<tr class=\"\(Self.escape(status))\">"
            for h in header {
                let v = r[h] ?? ""
                let shown = Double(v).map { v.count > 9 ? ChartScale.label($0) : v } ?? v
                out += "<td data-v=\"\(Self.escape(v))\">\(Self.escape(shown))</td>"
            }
            let id = r.run
            let base = "runs/\(id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? id)"
            out += "<td><a href=\"\(base)/metrics.csv\">metrics</a> <a href=\"\(base)/config.yaml\">config</a> <a href=\"\(base)/final.safetensors\">weights</a></td></tr>"
        }
        return out + "</tbody></table></div>\n"
    }
}

/// One row of `summary.csv` as the report reads it: the run, its status and wall time typed, and
/// every other column (swept settings, the chosen metric) by its header.
struct SummaryRow {
    let run: String
    /// `done`, `diverged`, `failed` (`RunStatus.word`).
    let status: String
    let wallSeconds: Double?
    private let values: [String: String]

    init(fields: [String], table: ResultsCSV) {
        run = table.field(fields, "run") ?? ""
        status = table.field(fields, "status") ?? ""
        wallSeconds = table.field(fields, "wall_s").flatMap(Double.init)
        var values: [String: String] = [:]
        for h in table.header { values[h] = table.field(fields, h) }
        self.values = values
    }

    /// The field under `column` (nil when the table has no such column).
    subscript(column: String) -> String? { values[column] }
}

/// An SVG line chart with min–max bands.
struct LineChart {
    let title: String
    let xLabel: String
    let yLabel: String
    let series: [(label: String, color: String, dash: String, points: [(Double, Double, Double, Double)])]
    let yValues: [Double]
    let xValues: [Double]

    func svg() -> String {
        let w = 540.0, h = 330.0, left = 64.0, right = 14.0, top = 26.0, bottom = 44.0
        let logY = ChartScale.wantsLog(yValues)
        guard let ye = ChartScale.extent(yValues, positiveOnly: logY), let xe = ChartScale.extent(xValues) else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"80\"><text x=\"10\" y=\"40\" font-size=\"13\">\(title): no finite values</text></svg>"
        }
        let pad = logY ? 1.0 : (ye.hi - ye.lo) * 0.05
        let ys = AxisScale(lo: logY ? ye.lo : ye.lo - pad, hi: logY ? ye.hi : ye.hi + pad, pixelLo: h - bottom, pixelHi: top, logarithmic: logY)
        let xs = AxisScale(lo: xe.lo, hi: xe.hi, pixelLo: left, pixelHi: w - right)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(title)\">"
        s += "<text x=\"\(left)\" y=\"16\" font-size=\"14\" font-weight=\"600\">\(title)\(logY ? " (log scale)" : "")</text>"
        for t in ys.ticks {
            guard let py = ys(t) else { continue }
            s += "<line x1=\"\(left)\" y1=\"\(py)\" x2=\"\(w - right)\" y2=\"\(py)\" stroke=\"#e6e6e6\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(py + 4)\" text-anchor=\"end\" font-size=\"12\">\(ChartScale.label(t))</text>"
        }
        let xticks = xs.ticks.filter { $0 == $0.rounded() }
        for t in xticks {
            guard let px = xs(t) else { continue }
            s += "<line x1=\"\(px)\" y1=\"\(h - bottom)\" x2=\"\(px)\" y2=\"\(h - bottom + 4)\" stroke=\"#555\"/>"
            s += "<text x=\"\(px)\" y=\"\(h - bottom + 17)\" text-anchor=\"middle\" font-size=\"12\">\(ChartScale.label(t))</text>"
        }
        s += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\" stroke=\"#555\"/>"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"#555\"/>"
        s += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 8)\" text-anchor=\"middle\" font-size=\"13\">\(xLabel)</text>"
        for line in series {
            let pts = line.points.compactMap { p -> (Double, Double, Double, Double)? in
                guard let x = xs(p.0), let m = ys(p.1), let lo = ys(p.2), let hi = ys(p.3) else { return nil }
                return (x, m, lo, hi)
            }
            guard !pts.isEmpty else { continue }
            if pts.contains(where: { $0.2 != $0.3 }) {
                let upper = pts.map { "\(f($0.0)),\(f($0.3))" }, lower = pts.reversed().map { "\(f($0.0)),\(f($0.2))" }
                s += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(line.color)\" fill-opacity=\"0.18\" stroke=\"none\"/>"
            }
            s += "<polyline points=\"\(pts.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(line.dash.isEmpty ? "" : " stroke-dasharray=\"\(line.dash)\"")><title>\(ReportWriter.escape(line.label))</title></polyline>"
        }
        return s + "</svg>"
    }

    func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
