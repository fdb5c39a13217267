import Foundation

/// An SVG line chart with min–max bands.
struct LineChart {
    let title: String
    let xLabel: String
    let yLabel: String
    let series: [(label: String, color: String, dash: String, points: [(Double, Double, Double, Double)])]
    let yValues: [Double]
    let xValues: [Double]
    /// Horizontal reference lines (the task's baseline and floor), labelled at the right end and
    /// always inside the y range.
    var references: [(label: String, value: Double)] = []
    /// Nil: every series with its band. Otherwise (many series) the labels drawn with their band and
    /// a wider line, on top; every other series is a thin line without band.
    var highlighted: Set<String>? = nil
    /// A logarithmic x axis (the values span more than a decade).
    var logX = false
    /// Tick values and labels for the x axis (a categorical axis: `full`, `random`), instead of
    /// round numbers; the axis is then padded by half a step on either side.
    var xTicks: [(value: Double, label: String)]? = nil
    /// Rings around points (the predicted frontier): solid or dashed, with a tooltip.
    var markers: [(x: Double, y: Double, solid: Bool, title: String)] = []
    /// A margin on either side of a numeric x axis, so that the first and last points (and their
    /// rings) are not cut by the plot's edge.
    var padX = false

    /// The x axis' ticks: `xTicks`, or on a log axis its decades (with 2 and 5 between them when
    /// it spans fewer than three), or round integers (epochs, lags).
    func xAxisTicks(_ xs: AxisScale) -> [(value: Double, label: String)] {
        if let xTicks { return xTicks }
        if logX {
            let decades = ChartScale.decadeTicks(xs.lo, xs.hi)
            let fine = decades.count <= 3 ? decades.flatMap { [$0, 2 * $0, 5 * $0] } : decades
            return fine.filter { $0 >= xs.lo * (1 - 1e-9) && $0 <= xs.hi * (1 + 1e-9) }.map { ($0, ChartScale.label($0)) }
        }
        return xs.ticks.filter { $0 == $0.rounded() }.map { ($0, ChartScale.label($0)) }
    }

    func svg() -> String {
        let w = 540.0, h = 330.0, left = 64.0, right = 14.0, top = 26.0, bottom = 44.0
        let allY = yValues + references.map(\.value).filter(\.isFinite)
        let logY = ChartScale.wantsLog(allY)
        guard let ye = ChartScale.extent(allY, positiveOnly: logY), let xe = ChartScale.extent(xValues) else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"80\"><text x=\"10\" y=\"40\" font-size=\"13\">\(title): no finite values</text></svg>"
        }
        let pad = logY ? 1.0 : (ye.hi - ye.lo) * 0.05
        let ys = AxisScale(lo: logY ? ye.lo : ye.lo - pad, hi: logY ? ye.hi : ye.hi + pad, pixelLo: h - bottom, pixelHi: top, logarithmic: logY)
        let logAxis = logX && xe.lo > 0
        var (xlo, xhi) = xTicks == nil ? (xe.lo, xe.hi) : (xe.lo - 0.5, xe.hi + 0.5)
        if padX, xTicks == nil {
            if logAxis { let r = pow(xhi / xlo, 0.04); xlo /= r; xhi *= r } else { let d = (xhi - xlo) * 0.04; xlo -= d; xhi += d }
        }
        let xs = AxisScale(lo: xlo, hi: xhi, pixelLo: left, pixelHi: w - right, logarithmic: logAxis)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(title)\">"
        s += "<text x=\"\(left)\" y=\"16\" font-size=\"14\" font-weight=\"600\">\(title)\(logY ? " (log scale)" : "")</text>"
        for t in ys.ticks {
            guard let py = ys(t) else { continue }
            s += "<line x1=\"\(left)\" y1=\"\(py)\" x2=\"\(w - right)\" y2=\"\(py)\" stroke=\"#e6e6e6\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(py + 4)\" text-anchor=\"end\" font-size=\"12\">\(ChartScale.label(t))</text>"
        }
        for t in xAxisTicks(xs) {
            guard let px = xs(t.value) else { continue }
            s += "<line x1=\"\(f(px))\" y1=\"\(h - bottom)\" x2=\"\(f(px))\" y2=\"\(h - bottom + 4)\" stroke=\"#555\"/>"
            s += "<text x=\"\(f(px))\" y=\"\(h - bottom + 17)\" text-anchor=\"middle\" font-size=\"12\">\(HTMLReport.escape(t.label))</text>"
        }
        s += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\" stroke=\"#555\"/>"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"#555\"/>"
        s += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 8)\" text-anchor=\"middle\" font-size=\"13\">\(xLabel)</text>"
        // Lines and bands stay inside the plot: pixels are clamped to it (a min–max band can
        // reach far below the axis, which covers the means only), and the SVG clips to it too.
        let clip = "plot\(Self.clipIDs.next())"
        s += "<defs><clipPath id=\"\(clip)\"><rect x=\"\(left)\" y=\"\(top)\" width=\"\(w - right - left)\" height=\"\(h - bottom - top)\"/></clipPath></defs><g clip-path=\"url(#\(clip))\">"
        func inside(_ py: Double?) -> Double? { py.map { min(max($0, top), h - bottom) } }
        for r in references {
            guard let py = inside(ys(r.value)) else { continue }
            s += "<line x1=\"\(left)\" y1=\"\(f(py))\" x2=\"\(w - right)\" y2=\"\(f(py))\" stroke=\"#d81b60\" stroke-width=\"1.3\" stroke-dasharray=\"7 4\"><title>\(HTMLReport.escape(r.label)) \(ChartScale.label(r.value))</title></line>"
            s += "<text class=\"ref\" x=\"\(w - right - 4)\" y=\"\(f(py - 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#ad1457\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">\(HTMLReport.escape(r.label)) \(ChartScale.label(r.value))</text>"
        }
        // Many series: the thin ones first, the highlighted ones on top.
        let ordered = highlighted.map { h in series.filter { !h.contains($0.label) } + series.filter { h.contains($0.label) } } ?? series
        for line in ordered {
            let banded = highlighted?.contains(line.label) ?? true
            let pts = line.points.compactMap { p -> (Double, Double, Double, Double)? in
                guard let x = xs(p.0), let m = inside(ys(p.1)) else { return nil }
                // A band end the axis cannot show (≤ 0 on a log axis) is drawn at the plot's edge.
                let lo = inside(ys(p.2)) ?? (h - bottom), hi = inside(ys(p.3)) ?? top
                return (x, m, lo, hi)
            }
            guard !pts.isEmpty else { continue }
            if banded, pts.contains(where: { $0.2 != $0.3 }) {
                let upper = pts.map { "\(f($0.0)),\(f($0.3))" }, lower = pts.reversed().map { "\(f($0.0)),\(f($0.2))" }
                s += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(line.color)\" fill-opacity=\"\(highlighted == nil ? "0.18" : "0.1")\" stroke=\"none\"/>"
            }
            let points = pts.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
            let dash = line.dash.isEmpty ? "" : " stroke-dasharray=\"\(line.dash)\""
            if highlighted == nil {
                s += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)><title>\(HTMLReport.escape(line.label))</title></polyline>"
            } else if banded {
                s += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"#fff\" stroke-width=\"5\" stroke-opacity=\"0.8\"/>"
                s += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2.5\"\(dash)><title>\(HTMLReport.escape(line.label))</title></polyline>"
            } else {
                s += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"1.1\" stroke-opacity=\"0.7\"\(dash)><title>\(HTMLReport.escape(line.label))</title></polyline>"
            }
            if pts.count == 1, let p = pts.first {
                s += "<circle cx=\"\(f(p.0))\" cy=\"\(f(p.1))\" r=\"3\" fill=\"\(line.color)\"/>"
            }
        }
        for m in markers {
            guard let px = xs(m.x), let py = inside(ys(m.y)) else { continue }
            s += "<circle cx=\"\(f(px))\" cy=\"\(f(py))\" r=\"7\" fill=\"none\" stroke=\"#d81b60\" stroke-width=\"2\"\(m.solid ? "" : " stroke-dasharray=\"3 2\"")><title>\(HTMLReport.escape(m.title))</title></circle>"
        }
        return s + "</g></svg>"
    }

    /// Clip-path ids unique within one report page.
    static let clipIDs = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
    }

    func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
