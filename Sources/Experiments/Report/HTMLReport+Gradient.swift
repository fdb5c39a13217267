import CSV
import Foundation

/// The report's gradient sections (SPEC 3.1, 7): the credit profile, the explain grids, and the
/// per-setting statistics.
extension HTMLReport {
    // MARK: Credit profile

    /// `|∂C_t / ∂h^l_{t-k}|` against the lag k at the last epoch, for the lowest recurrent layer:
    /// one line per setting (mean over seeds, band min–max), log scale.
    func creditProfile() -> String {
        var perRun: [String: [(lag: Double, norm: Double)]] = [:]
        for r in rows {
            let rows = credit[r.run] ?? []
            guard let last = rows.map(\.epoch).max() else { continue }
            let layer = ExperimentConfig.lowestRecurrentLayer(ExperimentConfig.layerKinds(inLayersText: r["layers"] ?? "")) ?? 0
            perRun[r.run] = rows.filter { $0.epoch == last && $0.layer == layer }.map { (Double($0.lag), $0.norm) }
        }
        guard !perRun.isEmpty else { return "" }
        let (groupKey, list) = series()
        let style = curveStyle(list, groupKey: groupKey)
        let styles = style.styles
        var lines: [(label: String, color: String, dash: String, points: [(Double, Double, Double, Double)])] = []
        var ys: [Double] = [], xs: [Double] = []
        for s in list {
            var byLag: [Double: [Double]] = [:]
            for run in s.runs { for p in perRun[run] ?? [] where p.norm > 0 && p.norm.isFinite { byLag[p.lag, default: []].append(p.norm) } }
            let pts = byLag.keys.sorted().map { k -> (Double, Double, Double, Double) in
                let v = byLag[k]!
                return (k, v.reduce(0, +) / Double(v.count), v.min()!, v.max()!)
            }
            guard !pts.isEmpty else { continue }
            ys += pts.map(\.1); xs += pts.map(\.0)
            let st = styles[s.label] ?? ("#444", "")
            lines.append((s.label, st.color, st.dash, pts))
        }
        guard !lines.isEmpty else { return "" }
        // Few settings: the legend of the drawn ones; many: the learning curves' colour bar.
        let drawn = Set(lines.map(\.label))
        let legend = style.highlighted == nil ? self.legend(list.filter { drawn.contains($0.label) }, groupKey: groupKey, styles: styles) : style.legend
        var chart = LineChart(title: "credit", xLabel: "lag k", yLabel: "credit", series: lines, yValues: ys, xValues: xs)
        chart.highlighted = style.highlighted
        return """
            <h2>Credit profile: how far back one error reaches</h2>
            <p class="note">|∂C<sub>t</sub>/∂h<sub>t−k</sub>| of the lowest recurrent layer against the lag k, untruncated, at the last epoch (mean over its sampled updates, then over seeds). Where it falls below 1% of lag 0 is the run's <code>credit_horizon</code>.</p>
            \(legend)
            <figure>\(chart.svg())</figure>

            """
    }

    // MARK: Explain grids

    /// One update of each distinct (tau_b, tau_max), the seed's picture: layers as rows from the
    /// top, steps as columns; filled: an injected error; dot: a cell an error reaches; the line:
    /// the truncation boundary.
    func explainGrids() -> String {
        guard !experiment.explain.isEmpty else { return "" }
        var out = "<h2>What one update reaches</h2><p class=\"note\">For each (tau_b, tau_max): the first update with a target whose window truncation cuts (else the first update with a target), on the first batch. Rows are layers (output at the top), columns steps; <b>■</b> an injected error, <b>●</b> a cell some injected error reaches, the red line the truncation boundary a = max(1, n − tau_max + 1).\(experiment.lagRanges.map { " The dataset's dependency lags: " + $0.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)…\($0.upperBound)" }.joined(separator: ", ") + "." } ?? "")</p><div class=\"charts\">"
        let shown = Self.sampled(experiment.explain, limit: Self.manySettings)
        if shown.count < experiment.explain.count {
            out = out.replacingOccurrences(of: "</p><div class=\"charts\">", with: " \(shown.count) of the \(experiment.explain.count) windows, evenly spaced (<code>rnn-exp explain</code> draws any).</p><div class=\"charts\">")
        }
        for g in shown { out += "<figure>\(Self.gridSVG(g))<figcaption>\(g.randomContinue.map { "tau_max random (c \(NumberText.format($0)))" } ?? g.adaptiveDelta.map { "tau_max adaptive (delta \(NumberText.format($0))), as the initial weights chose it: tau_b \(g.tauB), tau_max \(g.tauMax)" } ?? "tau_b \(g.tauB), tau_max \(g.tauMax)"): update at step \(g.updateStep), errors at (\(g.previousStep), \(g.updateStep)]</figcaption></figure>" }
        return out + "</div>\n"
    }

    /// Steps an explain grid's picture shows at most (the last ones up to the update's step).
    static let gridPictureSteps = 60
    /// Steps shown before the window start, when the picture has room.
    static let gridStepsBeforeWindow = 3

    /// The steps an update grid labels: every fifth and the update's own, leaving out a fifth
    /// too close to the update's step for both labels to fit (12 px cells, 10 px digits: "1516").
    static func gridTickSteps(_ steps: [Int], updateStep: Int) -> [Int] {
        steps.filter { m in
            if m == updateStep { return true }
            guard m % 5 == 0 else { return false }
            let gap = String(max(m, updateStep)).count >= 2 ? 3 : 2
            return abs(m - updateStep) >= gap
        }
    }

    static func gridSVG(_ g: ExplainGrid) -> String {
        let first = max(1, min(g.windowStart - gridStepsBeforeWindow, g.updateStep - (gridPictureSteps - 1)))
        let steps = Array(first...max(first, g.updateStep))
        let cell = 12.0, left = 78.0, top = 10.0
        let w = left + cell * Double(steps.count) + 10, h = top + cell * Double(g.layers.count) + 26
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\">"
        let injected = Set(g.injected)
        for (row, l) in g.layers.indices.reversed().enumerated() {
            let y = top + cell * Double(row)
            s += "<text x=\"\(left - 6)\" y=\"\(y + 9)\" text-anchor=\"end\" font-size=\"11\">\(l) \(escape(g.layers[l].type))</text>"
            let reached = Set(g.layers[l].reached)
            for (i, m) in steps.enumerated() {
                let x = left + cell * Double(i)
                if row == 0 && injected.contains(m) {
                    s += "<rect x=\"\(x + 1)\" y=\"\(y + 1)\" width=\"\(cell - 2)\" height=\"\(cell - 2)\" fill=\"#1f3b73\"/>"
                } else if reached.contains(m) {
                    s += "<circle cx=\"\(x + cell / 2)\" cy=\"\(y + cell / 2)\" r=\"3.6\" fill=\"#3a7bd5\"/>"
                } else {
                    s += "<circle cx=\"\(x + cell / 2)\" cy=\"\(y + cell / 2)\" r=\"1.2\" fill=\"#bbb\"/>"
                }
            }
        }
        if let i = steps.firstIndex(of: g.windowStart) {
            let x = left + cell * Double(i)
            s += "<line x1=\"\(x)\" y1=\"\(top - 4)\" x2=\"\(x)\" y2=\"\(top + cell * Double(g.layers.count) + 2)\" stroke=\"#d62728\" stroke-width=\"1.5\"/>"
        }
        for (i, m) in steps.enumerated() where gridTickSteps(steps, updateStep: g.updateStep).contains(m) {
            s += "<text x=\"\(left + cell * Double(i) + cell / 2)\" y=\"\(top + cell * Double(g.layers.count) + 14)\" text-anchor=\"middle\" font-size=\"10\">\(m)</text>"
        }
        return s + "</svg>"
    }

    // MARK: Settings

    /// `summary-by-setting.csv` as a table: each setting's runs, and mean ± sd and the 95%
    /// interval of its final metrics over seeds.
    func settingsTable() -> String {
        guard !settings.header.isEmpty, !settings.rows.isEmpty else { return "" }
        var shownRows = settings.rows
        var limited = ""
        if shownRows.count > Self.fullTableRuns {
            // The best and the worst settings by the metric's mean; every one is in the file.
            let metric = metricColumn, n = Self.tableExtremes
            let ranked = shownRows.compactMap { r in settings.field(r, "\(metric)_mean").flatMap(Double.init).flatMap { $0.isFinite ? (r, $0) : nil } }
                .sorted { Self.lowerIsBetter(metric) ? $0.1 < $1.1 : $0.1 > $1.1 }.map(\.0)
            shownRows = Array(ranked.prefix(n)) + Array(ranked.dropFirst(n).suffix(n))
            limited = " \(settings.rows.count) settings: the \(min(n, ranked.count)) best and the \(max(0, min(n, ranked.count - n))) worst by the mean of <code>\(Self.escape(metric))</code>; every one is in the file."
        }
        var out = "<h2>Settings</h2><p class=\"note\">One row per setting (seeds pooled): from <a href=\"summary-by-setting.csv\">summary-by-setting.csv</a>. mean ± sd over the setting's done runs, [min, max], ± the Student-t 95% half-width, n: the runs with a value.\(limited)</p><div class=\"tablewrap\"><table class=\"sortable\"><thead><tr>"
        let keys = settings.header.prefix { $0 != "runs" }
        let measures = settings.header.compactMap { h in h.hasSuffix("_mean") ? String(h.dropLast(5)) : nil }
        out += (keys + ["runs", "done"] + measures).map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for r in shownRows {
            out += "<tr>"
            for k in Array(keys) + ["runs", "done"] { out += "<td>\(Self.escape(settings.field(r, k) ?? ""))</td>" }
            for m in measures {
                func v(_ stat: String) -> Double? { settings.field(r, "\(m)_\(stat)").flatMap(Double.init) }
                var text = ""
                if let mean = v("mean") {
                    text = ChartScale.label(mean)
                    if let sd = v("sd") { text += " ± \(ChartScale.label(sd))" }
                    if let lo = v("min"), let hi = v("max"), v("sd") != nil { text += " [\(ChartScale.label(lo)), \(ChartScale.label(hi))]" }
                    if let ci = v("ci95") { text += " (±\(ChartScale.label(ci)))" }
                    if let n = settings.field(r, "\(m)_n"), !n.isEmpty { text += " n=\(n)" }
                }
                out += "<td data-v=\"\(v("mean").map { String($0) } ?? "")\">\(Self.escape(text))</td>"
            }
            out += "</tr>"
        }
        return out + "</tbody></table></div>\n"
    }
}
