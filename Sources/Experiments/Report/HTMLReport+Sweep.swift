import Foundation

/// The final metric against each numeric swept setting (issue 34): the chart a researcher draws
/// for a learning-rate or window sweep — a line over the setting's values, the seeds as a band, a
/// log axis when the values span more than a decade, one line per value of a second setting, the
/// task's baseline and floor, and for tau_max or tau_b the predicted frontier.
extension HTMLReport {
    /// Values of a second setting drawn as one line each; a setting with more is pooled.
    static let linesPerChart = 8

    /// The settings with two or more values, every one a number (or `full`, `random`: a
    /// categorical axis); an online run's empty tau_max is not a value.
    var numericSettingKeys: [String] {
        settingKeys.filter { k in
            let values = (experiment.sweepValues[k] ?? []).filter { !$0.isEmpty }
            return values.count > 1 && values.allSatisfy { Self.numeric($0) != nil }
        }
    }

    /// One section per metric (the heatmaps' metric, final_val_loss when the task has a baseline
    /// or floor, mean_grad_cos with diagnostics), one chart per numeric swept setting.
    func sweepCharts() -> String {
        let keys = numericSettingKeys
        guard !keys.isEmpty, !rows.isEmpty else { return "" }
        var metrics = [metricColumn]
        if metricColumn != "final_val_loss", !lossReferences.isEmpty, header.contains("final_val_loss") { metrics.append("final_val_loss") }
        if header.contains("mean_grad_cos"), metricColumn != "mean_grad_cos" { metrics.append("mean_grad_cos") }
        // One setting: every metric's chart side by side in one section; several: a section per
        // metric, a chart per setting.
        let sections: [(title: String, charts: [(metric: String, x: String)])] = keys.count == 1
            ? [("Final values against <code>\(Self.escape(Self.short(keys[0])))</code>", metrics.map { ($0, keys[0]) })]
            : metrics.map { m in ("<code>\(Self.escape(m))</code> against each swept setting", keys.map { (m, $0) }) }
        var out = ""
        for section in sections {
            let figures = section.charts.compactMap { sweepChart(metric: $0.metric, x: $0.x) }
            guard !figures.isEmpty else { continue }
            let frontier = figures.contains(where: \.frontier)
            let lag = experiment.lagRanges?.map(\.upperBound).max() ?? 0
            let refs = section.charts.contains { $0.metric.hasSuffix("loss") } && !lossReferences.isEmpty
            out += """
                <h2>\(section.title)</h2>
                <p class="note">Each point: the mean of the done runs' final value over the seeds\(settingKeys.count > 1 ? " (and over the settings not on the chart)" : ""); the band: ± one standard deviation over them, within their range. A log axis where the values span more than a decade.\(refs ? " Dashed pink: the task's " + lossReferences.map(\.label).joined(separator: " and ") + "." : "")\(frontier ? " Pink rings: the predicted frontier for the dataset's longest dependency lag \(lag) (dashed: some injected errors reach it, tau_max ≥ L + 1; solid: all do, tau_max − tau_b ≥ L)." : "")</p>
                <div class="charts">\(figures.map(\.html).joined(separator: "\n"))</div>

                """
        }
        return out
    }

    /// The summary.csv column that holds a run's value of `key` for the frontier (`tau_max`,
    /// `tau_b`: the window in steps, `full` resolved).
    func windowValue(_ r: SummaryRow, _ key: String) -> String? {
        r[key] ?? r["training.\(key)"]
    }

    /// `metric` against `x`: one line per value of the first other setting with 2…`linesPerChart`
    /// values (the rest pooled), mean ± sd over the runs of each point. Nil without a finite value.
    func sweepChart(metric: String, x: String) -> (html: String, frontier: Bool)? {
        let xs = (experiment.sweepValues[x] ?? []).filter { !$0.isEmpty }
        let lineKey = settingKeys.first { k in
            k != x && (2...Self.linesPerChart).contains((experiment.sweepValues[k] ?? []).count)
        }
        let lineValues = lineKey.flatMap { experiment.sweepValues[$0] } ?? [""]
        // Positions: the numbers themselves (log past a decade), or the sweep's order when a value
        // is `full` or `random`.
        let numbers = xs.compactMap(Double.init).filter(\.isFinite)
        let numericAxis = numbers.count == xs.count
        let logX = numericAxis && (numbers.min() ?? 0) > 0 && (numbers.max() ?? 0) / (numbers.min() ?? 1) > 10
        func position(_ i: Int) -> Double { numericAxis ? numbers[i] : Double(i) }
        var byLine: [String: [String: [SummaryRow]]] = [:]
        for r in rows where r.status == .done {
            byLine[lineKey.flatMap { r[$0] } ?? "", default: [:]][r[x] ?? "", default: []].append(r)
        }
        var series: [(label: String, color: String, dash: String, points: [(Double, Double, Double, Double)])] = []
        var markers: [(x: Double, y: Double, solid: Bool, title: String)] = []
        var yValues: [Double] = [], xValues: [Double] = []
        var legend: [(String, String)] = []
        for (j, lv) in lineValues.enumerated() {
            let color = lineValues.count > 1 ? Viridis.color(0.85 * Double(j) / Double(lineValues.count - 1)) : Viridis.color(0.3)
            let groups = byLine[lv] ?? [:]
            var pts: [(Double, Double, Double, Double)] = []
            // An algorithm that takes no such setting (an online run's tau_max): its runs as one
            // level line across the chart.
            let across = groups.keys.allSatisfy(\.isEmpty) ? groups[""] ?? [] : []
            for (i, xv) in xs.enumerated() {
                let runs = across.isEmpty ? groups[xv] ?? [] : across
                let v = runs.compactMap { $0[metric].flatMap(Double.init) }.filter(\.isFinite)
                guard !v.isEmpty else { continue }
                let mean = v.reduce(0, +) / Double(v.count)
                let sd = v.count > 1 ? (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
                // ± sd within the seeds' range (a loss's band never dips below its smallest run).
                let lo = max(mean - sd, v.min() ?? mean), hi = min(mean + sd, v.max() ?? mean)
                pts.append((position(i), mean, lo, hi))
                yValues += [lo, hi]
                xValues.append(position(i))
                if across.isEmpty, let run = runs.first, let reach = frontierReach(x: x, xv: xv, run: run), reach.some {
                    markers.append((position(i), mean, reach.all, "predicted: \(reach.all ? "all" : "some") injected errors reach the dependency"))
                }
            }
            guard !pts.isEmpty else { continue }
            let label = lineKey.map { "\(Self.short($0))=\(lv.isEmpty ? "none" : lv)" + (across.isEmpty ? "" : " (takes no \(Self.short(x)))") } ?? metric
            series.append((label, color, across.isEmpty ? "" : "2 3", pts))
            legend.append((label, color))
        }
        guard !series.isEmpty else { return nil }
        var chart = LineChart(title: metric, xLabel: Self.short(x) + (logX ? " (log)" : ""), yLabel: metric, series: series,
                              yValues: yValues, xValues: xValues, references: metric.hasSuffix("loss") ? lossReferences : [])
        chart.logX = logX
        chart.padX = true
        if !numericAxis {
            let every = max(1, Int((Double(xs.count) / 10).rounded(.up)))
            chart.xTicks = xs.enumerated().filter { $0.offset % every == 0 }.map { (Double($0.offset), $0.element) }
        }
        chart.markers = markers
        var html = "<figure>\(chart.svg())"
        if legend.count > 1 {
            html += "<figcaption class=\"legend\"><div class=\"legend-row\">" + legend.map { "<span>\(Self.lineSample($0.1, ""))\(Self.escape($0.0))</span>" }.joined() + "</div></figcaption>"
        }
        return (html + "</figure>", !markers.isEmpty)
    }

    /// Whether the run's window reaches the dataset's longest dependency (`predictedReach`), when
    /// `x` is tau_max or tau_b (the other read from the run's row).
    func frontierReach(x: String, xv: String, run: SummaryRow) -> (some: Bool, all: Bool)? {
        if x.hasSuffix("tau_max") { return predictedReach(tauMax: xv, tauB: windowValue(run, "tau_b")) }
        if x.hasSuffix("tau_b"), let tauMax = windowValue(run, "tau_max") { return predictedReach(tauMax: tauMax, tauB: xv) }
        return nil
    }
}
