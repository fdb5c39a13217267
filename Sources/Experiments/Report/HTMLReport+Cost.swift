import Foundation

/// Final loss against cost (issue 29, feature 1a): the comparison a researcher draws first when an
/// experiment has more than one algorithm or window — who reaches which floor at what price.
extension HTMLReport {
    /// One point per setting of `summary-by-setting.csv` (seeds pooled): x = µs per sample-step
    /// (`1e6 / sample_steps_per_s_mean`, log axis), y = `final_val_loss_mean` with a bar of ± its
    /// seed standard deviation; the task's baseline and floor as dashed lines. Empty unless the
    /// swept settings include an algorithm or a window and there are two settings to compare.
    func costChart() -> String {
        let keys = settingKeys
        let compares = keys.contains { $0.hasSuffix("algorithm") || $0.hasSuffix("tau_max") || $0.hasSuffix("tau_b") || $0.hasPrefix("training.style") }
        guard compares, settings.header.contains("sample_steps_per_s_mean") else { return "" }
        struct Point { let label: String, cost: Double, loss: Double, sd: Double? }
        let points: [Point] = settingSpreads("final_val_loss").compactMap { s in
            guard let speed = settings.field(s.row, "sample_steps_per_s_mean").flatMap(Double.init), speed > 0 else { return nil }
            return Point(label: s.label, cost: 1e6 / speed, loss: s.mean, sd: s.sd)
        }
        guard points.count >= 2 else { return "" }
        let (w, h) = (900.0, 380.0), (left, right, top, bottom) = (64.0, 340.0, 16.0, 44.0)
        guard let xr = ChartScale.extent(points.map(\.cost), positiveOnly: true) else { return "" }
        let ys = points.flatMap { p in [p.loss - (p.sd ?? 0), p.loss + (p.sd ?? 0)] } + lossReferences.map(\.value)
        guard let yr = ChartScale.extent(ys) else { return "" }
        let pad = (yr.hi - yr.lo) * 0.06
        let x = AxisScale(lo: xr.lo / 1.25, hi: xr.hi * 1.25, pixelLo: left, pixelHi: w - right, logarithmic: true)
        let y = AxisScale(lo: yr.lo - pad, hi: yr.hi + pad, pixelLo: h - bottom, pixelHi: top)
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = "<svg class=\"chart\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"final validation loss against cost\">"
        for t in x.ticks { if let px = x(t) {
            svg += "<line x1=\"\(f(px))\" y1=\"\(f(top))\" x2=\"\(f(px))\" y2=\"\(f(h - bottom))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(px))\" y=\"\(f(h - bottom + 16))\" font-size=\"11\" text-anchor=\"middle\">\(ChartScale.label(t))</text>"
        } }
        svg += Self.yAxis(y, from: left, to: w - right, title: "final_val_loss", titleX: 14, middle: (top + h - bottom) / 2)
        svg += "<text x=\"\(f((left + w - right) / 2))\" y=\"\(f(h - 8))\" font-size=\"12\" text-anchor=\"middle\">µs per sample-step (log)</text>"
        for r in lossReferences { if let py = y(r.value) {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(w - right))\" y2=\"\(f(py))\" stroke=\"#c2185b\" stroke-dasharray=\"5 4\"/>"
            svg += "<text x=\"\(f(w - right - 4))\" y=\"\(f(py - 4))\" font-size=\"11\" fill=\"#c2185b\" text-anchor=\"end\">\(r.label) \(ChartScale.label(r.value))</text>"
        } }
        // A legend line per setting while they fit beside the chart; past that the best and the
        // worst few by loss (every point keeps its tooltip).
        let named: Set<Int>
        if points.count <= Self.manySettings { named = Set(points.indices) } else {
            let order = points.indices.sorted { points[$0].loss < points[$1].loss }
            named = Set(order.prefix(Self.manySettings / 2) + order.suffix(Self.manySettings / 2))
        }
        var line = 0
        for (i, p) in points.enumerated() {
            guard let px = x(p.cost) else { continue }
            let color = Viridis.color(Double(i) / Double(points.count - 1) * 0.9)
            svg += Self.errorPoint(x: px, y, mean: p.loss, sd: p.sd, cap: nil, color: color,
                                   title: "\(p.label): loss \(ChartScale.label(p.loss))", unit: ", \(ChartScale.label(p.cost)) µs/step")
            guard named.contains(i) else { continue }
            svg += "<text x=\"\(f(w - right + 12))\" y=\"\(f(top + 14 + Double(line) * 15))\" font-size=\"11\" fill=\"\(color)\">● \(Self.escape(p.label)) (\(ChartScale.label(p.cost)) µs)</text>"
            line += 1
        }
        if named.count < points.count {
            svg += "<text x=\"\(f(w - right + 12))\" y=\"\(f(top + 14 + Double(line) * 15))\" font-size=\"11\" fill=\"#555\">(\(points.count - named.count) more: hover a point)</text>"
        }
        svg += "</svg>"
        return """
            <h2>Final loss against cost</h2>
            <p class="note">One point per setting (seeds pooled, from summary-by-setting.csv): the final validation loss, mean ± sd over seeds, against the measured time per sample-step (1e6 / sample_steps_per_s, log axis); dashed: the task's baseline and floor. Who reaches which floor at what price.</p>
            <div class="tablewrap">\(svg)</div>

            """
    }
}

extension HTMLReport {
    /// `mean_grad_cos` per setting with seed error bars (issue 29, feature 1c): how well each
    /// algorithm's or window's updates align with the untruncated gradient. One point per setting
    /// of `summary-by-setting.csv`, mean ± sd over seeds, on a `cos` axis up to 1. Empty without
    /// diagnostics or with fewer than two settings.
    func gradCosChart() -> String {
        let points = settingSpreads("mean_grad_cos")
        guard points.count >= 2 else { return "" }
        // 64 px per setting while they fit the page, narrower past that (labels thinned to fit).
        let (left, top, bottom) = (150.0, 16.0, 170.0)
        let step = min(64, max(4, ((Self.pageWidth - left - 24) / Double(points.count)).rounded(.down)))
        let labelEvery = max(1, Int((14 / step).rounded(.up)))
        let w = left + step * Double(points.count) + 24, h = 380.0
        let lo = min(0, points.map { $0.mean - ($0.sd ?? 0) }.min() ?? 0)
        let y = AxisScale(lo: lo, hi: 1.02, pixelLo: h - bottom, pixelHi: top)
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = "<svg class=\"chart\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"mean_grad_cos per setting\">"
        svg += Self.yAxis(y, from: left, to: w - 16, title: "mean_grad_cos", titleX: left - 44, middle: (top + h - bottom) / 2)
        for (i, p) in points.enumerated() {
            let px = left + step * (Double(i) + 0.5)
            let color = Viridis.color(Double(i) / Double(points.count - 1) * 0.9)
            svg += Self.errorPoint(x: px, y, mean: p.mean, sd: p.sd, cap: 1.02, color: color,
                                   title: "\(p.label): \(ChartScale.label(p.mean))", unit: "")
            guard i % labelEvery == 0 else { continue }
            svg += "<text x=\"\(f(px))\" y=\"\(f(h - bottom + 12))\" font-size=\"11\" text-anchor=\"end\" transform=\"rotate(-40 \(f(px)) \(f(h - bottom + 12)))\">\(Self.escape(p.label))</text>"
        }
        svg += "</svg>"
        return """
            <h2>Alignment with the true gradient</h2>
            <p class="note">mean_grad_cos per setting (seeds pooled, from summary-by-setting.csv): the mean cosine between each sampled update's gradient and the untruncated one, mean ± sd over seeds (1: the update follows the true gradient).</p>
            <div class="tablewrap">\(svg)</div>

            """
    }
}

extension HTMLReport {
    /// Each setting of `summary-by-setting.csv` with a finite `<column>_mean`: its label
    /// (`settingLabel`), the mean, the seed standard deviation (nil when there is none) and its row.
    func settingSpreads(_ column: String) -> [(label: String, mean: Double, sd: Double?, row: [String])] {
        guard settings.header.contains("\(column)_mean") else { return [] }
        return settings.rows.compactMap { row in
            guard let mean = settings.field(row, "\(column)_mean").flatMap(Double.init), mean.isFinite else { return nil }
            let sd = settings.field(row, "\(column)_sd").flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil }
            return (Self.settingLabel(settingKeys) { settings.field(row, $0) }, mean, sd, row)
        }
    }

    /// A y axis: grid lines from `left` to `right` at its ticks, their labels, and its title
    /// rotated at `titleX`, centred on `middle`.
    static func yAxis(_ y: AxisScale, from left: Double, to right: Double, title: String, titleX: Double, middle: Double) -> String {
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = ""
        for t in y.ticks { if let py = y(t) {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(right))\" y2=\"\(f(py))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(py + 4))\" font-size=\"11\" text-anchor=\"end\">\(ChartScale.label(t))</text>"
        } }
        return svg + "<text x=\"\(f(titleX))\" y=\"\(f(middle))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 \(f(titleX)) \(f(middle)))\">\(title)</text>"
    }

    /// A point at `(x, mean)` with a bar of ± `sd` (its top at most `cap`) and a tooltip:
    /// `title`, ` ± sd`, then `unit`.
    static func errorPoint(x px: Double, _ y: AxisScale, mean: Double, sd: Double?, cap: Double?, color: String,
                           title: String, unit: String) -> String {
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        guard let py = y(mean) else { return "" }
        var svg = ""
        if let sd, let a = y(mean - sd), let b = y(cap.map { min(mean + sd, $0) } ?? mean + sd) {
            svg += "<line x1=\"\(f(px))\" y1=\"\(f(a))\" x2=\"\(f(px))\" y2=\"\(f(b))\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
        }
        return svg + "<circle cx=\"\(f(px))\" cy=\"\(f(py))\" r=\"4.5\" fill=\"\(color)\"><title>\(escape(title))"
            + (sd.map { " ± \(ChartScale.label($0))" } ?? "") + "\(escape(unit))</title></circle>"
    }
}
