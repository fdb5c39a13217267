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
        guard compares, settings.header.contains("final_val_loss_mean"), settings.header.contains("sample_steps_per_s_mean") else { return "" }
        struct Point { let label: String, cost: Double, loss: Double, sd: Double? }
        let points: [Point] = settings.rows.compactMap { row in
            guard let speed = settings.field(row, "sample_steps_per_s_mean").flatMap(Double.init), speed > 0,
                  let loss = settings.field(row, "final_val_loss_mean").flatMap(Double.init), loss.isFinite else { return nil }
            let label = keys.compactMap { k in settings.field(row, k).flatMap { $0.isEmpty ? nil : "\(Self.short(k))=\($0)" } }
                .joined(separator: ", ")
            return Point(label: label, cost: 1e6 / speed, loss: loss,
                         sd: settings.field(row, "final_val_loss_sd").flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil })
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
        for t in y.ticks { if let py = y(t) {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(w - right))\" y2=\"\(f(py))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(py + 4))\" font-size=\"11\" text-anchor=\"end\">\(ChartScale.label(t))</text>"
        } }
        svg += "<text x=\"\(f((left + w - right) / 2))\" y=\"\(f(h - 8))\" font-size=\"12\" text-anchor=\"middle\">µs per sample-step (log)</text>"
        svg += "<text x=\"14\" y=\"\(f((top + h - bottom) / 2))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f((top + h - bottom) / 2)))\">final_val_loss</text>"
        for r in lossReferences { if let py = y(r.value) {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(w - right))\" y2=\"\(f(py))\" stroke=\"#c2185b\" stroke-dasharray=\"5 4\"/>"
            svg += "<text x=\"\(f(w - right - 4))\" y=\"\(f(py - 4))\" font-size=\"11\" fill=\"#c2185b\" text-anchor=\"end\">\(r.label) \(ChartScale.label(r.value))</text>"
        } }
        for (i, p) in points.enumerated() {
            guard let px = x(p.cost), let py = y(p.loss) else { continue }
            let color = Viridis.color(points.count > 1 ? Double(i) / Double(points.count - 1) * 0.9 : 0.5)
            if let sd = p.sd, let lo = y(p.loss - sd), let hi = y(p.loss + sd) {
                svg += "<line x1=\"\(f(px))\" y1=\"\(f(lo))\" x2=\"\(f(px))\" y2=\"\(f(hi))\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
            }
            svg += "<circle cx=\"\(f(px))\" cy=\"\(f(py))\" r=\"4.5\" fill=\"\(color)\"><title>\(Self.escape(p.label)): loss \(ChartScale.label(p.loss))"
                + (p.sd.map { " ± \(ChartScale.label($0))" } ?? "") + ", \(ChartScale.label(p.cost)) µs/step</title></circle>"
            svg += "<text x=\"\(f(w - right + 12))\" y=\"\(f(top + 14 + Double(i) * 15))\" font-size=\"11\" fill=\"\(color)\">● \(Self.escape(p.label)) (\(ChartScale.label(p.cost)) µs)</text>"
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
        let keys = settingKeys
        guard settings.header.contains("mean_grad_cos_mean") else { return "" }
        let points: [(label: String, mean: Double, sd: Double?)] = settings.rows.compactMap { row in
            guard let mean = settings.field(row, "mean_grad_cos_mean").flatMap(Double.init), mean.isFinite else { return nil }
            let label = keys.compactMap { k in settings.field(row, k).flatMap { $0.isEmpty ? nil : "\(Self.short(k))=\($0)" } }
                .joined(separator: ", ")
            return (label, mean, settings.field(row, "mean_grad_cos_sd").flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil })
        }
        guard points.count >= 2 else { return "" }
        let step = 64.0, (left, top, bottom) = (150.0, 16.0, 170.0)
        let w = left + step * Double(points.count) + 24, h = 380.0
        let lo = min(0, points.map { $0.mean - ($0.sd ?? 0) }.min() ?? 0)
        let y = AxisScale(lo: lo, hi: 1.02, pixelLo: h - bottom, pixelHi: top)
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = "<svg class=\"chart\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"mean_grad_cos per setting\">"
        for t in y.ticks { if let py = y(t) {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(w - 16))\" y2=\"\(f(py))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(py + 4))\" font-size=\"11\" text-anchor=\"end\">\(ChartScale.label(t))</text>"
        } }
        let yLabel = left - 44
        svg += "<text x=\"\(f(yLabel))\" y=\"\(f((top + h - bottom) / 2))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 \(f(yLabel)) \(f((top + h - bottom) / 2)))\">mean_grad_cos</text>"
        for (i, p) in points.enumerated() {
            let px = left + step * (Double(i) + 0.5)
            guard let py = y(p.mean) else { continue }
            let color = Viridis.color(Double(i) / Double(points.count - 1) * 0.9)
            if let sd = p.sd, let a = y(p.mean - sd), let b = y(min(p.mean + sd, 1.02)) {
                svg += "<line x1=\"\(f(px))\" y1=\"\(f(a))\" x2=\"\(f(px))\" y2=\"\(f(b))\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
            }
            svg += "<circle cx=\"\(f(px))\" cy=\"\(f(py))\" r=\"4.5\" fill=\"\(color)\"><title>\(Self.escape(p.label)): \(ChartScale.label(p.mean))"
                + (p.sd.map { " ± \(ChartScale.label($0))" } ?? "") + "</title></circle>"
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
