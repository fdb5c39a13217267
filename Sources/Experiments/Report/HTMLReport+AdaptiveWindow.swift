import Foundation

/// Adaptive tau_max (SPEC 3.4): the window each adaptive setting trained with, epoch by epoch.
extension HTMLReport {
    /// One line per setting with adaptive runs (seeds: mean, band from their minimum to maximum)
    /// of metrics.csv's `chosen_tau_max`; empty when no run is adaptive.
    func adaptiveWindowChart() -> String {
        let (groupKey, all) = series()
        let list = all.filter { s in s.runs.contains { run in (curves[run] ?? []).contains { $0.chosenTauMax != nil } } }
        guard !list.isEmpty else { return "" }
        let styles = lineStyles(list, groupKey: groupKey)
        var lines: [(label: String, color: String, dash: String, points: [(Double, Double, Double, Double)])] = []
        var values: [Double] = [], epochs: [Double] = []
        for s in list {
            var byEpoch: [Double: [Double]] = [:]
            for run in s.runs { for r in curves[run] ?? [] { if let k = r.chosenTauMax { byEpoch[Double(r.epoch), default: []].append(k) } } }
            let points = byEpoch.keys.sorted().map { e -> (Double, Double, Double, Double) in
                let v = byEpoch[e]!
                return (e, v.reduce(0, +) / Double(v.count), v.min()!, v.max()!)
            }
            values += byEpoch.values.flatMap { $0 }
            epochs += byEpoch.keys
            let st = styles[s.label] ?? ("#444", "")
            lines.append((s.label, st.color, st.dash, points))
        }
        let svg = LineChart(title: "chosen_tau_max", xLabel: "epoch", yLabel: "chosen tau_max", series: lines,
                            yValues: values + [0], xValues: epochs).svg()
        return """
            <h2>Adaptive window</h2>
            <p class="note">The tau_max each adaptive run trained with (metrics.csv's <code>chosen_tau_max</code>): the smallest window whose estimated relative gradient bias ρ, from the credit profile measured at the start of the epoch, is at most delta (Aicher et al. 2019). The frontier marks of the heatmaps use its mean over the epochs.</p>
            \(legend(list, groupKey: groupKey, styles: styles))
            <div class="charts"><figure>\(svg)</figure></div>

            """
    }
}
