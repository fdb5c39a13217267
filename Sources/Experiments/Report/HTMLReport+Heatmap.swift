import Foundation

extension HTMLReport {
    // MARK: Heatmaps

    /// The swept key that names the training algorithm.
    static let algorithmKey = "training.algorithm"

    func heatmaps(metric: String? = nil) -> String {
        // (An empty value is an online run's tau_max: SPEC 3.3, no truncation.)
        let numericKeys = settingKeys.filter { k in
            let values = (experiment.sweepValues[k] ?? []).filter { !$0.isEmpty }
            return values.allSatisfy { Self.numeric($0) != nil } && values.count > 1
        }
        var pairs: [(String, String)] = []
        if let x = options.x, let y = options.y { pairs = [(x, y)] }
        else if let given = options.x ?? options.y {
            // One axis chosen: pair it with each other numeric setting, or draw it alone.
            let others = numericKeys.filter { $0 != given }
            if others.isEmpty { return heatmap(x: given, y: nil, metric: metric) }
            pairs = others.map { options.x != nil ? (given, $0) : ($0, given) }
        } else if settingKeys.contains(Self.algorithmKey) {
            // The algorithm as the rows (SPEC 3.3), each numeric setting with few values as the
            // columns (a setting with many is a line per algorithm in `sweepCharts`).
            if numericKeys.isEmpty { return heatmap(x: Self.algorithmKey, y: nil, metric: metric) }
            pairs = numericKeys.filter(hasFewValues).map { ($0, Self.algorithmKey) }
        } else {
            // Pairs of numeric settings with few values each; one numeric setting alone, or one of
            // many values, is a line chart (`sweepCharts`).
            let few = numericKeys.filter(hasFewValues)
            for (i, a) in few.enumerated() { for b in few[(i + 1)...] { pairs.append((a, b)) } }
            // tau_max on the x axis and tau_b on y when both are swept (the seed's picture).
            pairs = pairs.map { p in p.1.hasSuffix("tau_max") && p.0.hasSuffix("tau_b") ? (p.1, p.0) : p }
        }
        // A setting that is not numeric (no line chart), alone: one row of cells.
        if pairs.isEmpty, numericKeys.isEmpty, let only = settingKeys.first { return heatmap(x: only, y: nil, metric: metric) }
        guard !pairs.isEmpty else { return "" }
        return pairs.map { heatmap(x: $0.0, y: $0.1, metric: metric) }.joined()
    }

    /// A heatmap axis stays readable up to `manySettings` values.
    func hasFewValues(_ key: String) -> Bool {
        (experiment.sweepValues[key] ?? []).filter { !$0.isEmpty }.count <= Self.manySettings
    }

    /// The widest a chart is drawn (the page's 1180 px less its padding): a heatmap with more
    /// columns than fit at full size gets narrower cells, down to `minimumCell`, then scrolls
    /// inside its box.
    static let pageWidth = 1140.0
    static let minimumCell = 4.0

    /// SPEC 3.2's predicted frontier for a (tau_max, tau_b) cell and the dataset's longest
    /// dependency lag L: some injected errors reach it iff tau_max >= L + 1, all iff
    /// tau_max - tau_b >= L. Nil when the cell's settings or the lags are unknown. An adaptive
    /// cell's tau_max and tau_b are its runs' effective windows (summary.csv: the mean chosen).
    func predictedReach(tauMax: String, tauB: String?) -> (some: Bool, all: Bool)? {
        guard let lag = experiment.lagRanges?.map(\.upperBound).max(), let tb = tauB.flatMap({ Double($0) }) else { return nil }
        guard let tm = tauMax == "full" ? Double(Int.max / 2) : Double(tauMax) else { return nil }
        return (tm >= Double(lag + 1), tm - tb >= Double(lag))
    }

    /// The cell's value from `summary-by-setting.csv` when the heatmap's axes are exactly the
    /// swept settings (every other swept key is a seed) and the file has the metric's mean.
    func settingMean(_ metric: String, x: (key: String, value: String), y: (key: String, value: String)?) -> Double? {
        guard Set(settingKeys) == Set([x.key] + (y.map { [$0.key] } ?? [])), settings.header.contains("\(metric)_mean") else { return nil }
        let row = settings.rows.first { settings.field($0, x.key) == x.value && (y == nil || settings.field($0, y!.key) == y!.value) }
        return row.flatMap { settings.field($0, "\(metric)_mean") }.flatMap(Double.init)
    }

    /// The colour scale's ends. Anchored where the metric has natural ends, so that small
    /// differences between cells do not fill the whole scale: a loss between the task's floor and
    /// its baseline (when known; the data widen it), an accuracy or a cosine within [0, 1];
    /// otherwise the data's range. Notes name an anchor that is an end (" baseline", " floor").
    func colourRange(_ metric: String, _ values: [Double]) -> (lo: Double, hi: Double, loNote: String, hiNote: String) {
        let dataLo = values.min() ?? 0, dataHi = values.max() ?? 1
        if metric.hasSuffix("loss") {
            let refs = lossReferences
            let baseline = refs.first { $0.label == "baseline" }?.value, floor = refs.first { $0.label == "floor" }?.value
            if baseline != nil || floor != nil {
                let lo = min(floor ?? dataLo, dataLo), hi = max(baseline ?? dataHi, dataHi)
                return (lo, hi, floor == lo ? " (floor)" : "", baseline == hi ? " (baseline)" : "")
            }
        }
        if metric.contains("accuracy") || metric.hasSuffix("grad_cos") {
            return (min(0, dataLo), max(1, dataHi), "", "")
        }
        return (dataLo, dataHi, "", "")
    }

    /// Whether `key` is a setting that belongs to one algorithm (SPEC 3.3: tau_max, rflo_decay).
    static func isPerAlgorithm(_ key: String) -> Bool {
        AlgorithmName.allCases.contains { Planner.keysNotTaken(by: $0).contains(key) }
    }

    func heatmap(x: String, y: String?, metric chosen: String? = nil) -> String {
        let metric = chosen ?? metricColumn
        // Algorithm rows against a setting that belongs to one algorithm (tau_max): a row whose
        // algorithm does not take the setting is one cell across the row (its runs are the same
        // for every value), and the setting's empty value (not taken) is no column.
        let spansRows = y == Self.algorithmKey && Self.isPerAlgorithm(x)
        let xs = (experiment.sweepValues[x] ?? []).filter { !spansRows || !$0.isEmpty }
        let ys = y.flatMap { experiment.sweepValues[$0] } ?? [""]
        func spans(_ algorithm: String) -> Bool {
            spansRows && AlgorithmName(rawValue: algorithm).map { Planner.keysNotTaken(by: $0).contains(x) } == true
        }
        struct Cell { var value: Double?; var state: String }
        var cells: [[Cell]] = []
        var values: [Double] = []
        // The rows of each (y, x) value, grouped once (a 6,000-run, 200-column map looked each
        // cell's runs up among all rows).
        let byY = Dictionary(grouping: rows) { r in y.flatMap { r[$0] } ?? "" }
        for yv in ys {
            var row: [Cell] = []
            let inRow = y == nil ? rows : byY[yv] ?? []
            let byX = Dictionary(grouping: inRow) { $0[x] ?? "" }
            for xv in xs {
                let matching = spans(yv) ? inRow : byX[xv] ?? []
                let done = matching.filter { $0.status == .done }.compactMap { Double($0[metric] ?? "") }.filter { $0.isFinite }
                if !done.isEmpty {
                    let mean = (spans(yv) ? nil : settingMean(metric, x: (x, xv), y: y.map { ($0, yv) })) ?? done.reduce(0, +) / Double(done.count)
                    values.append(mean)
                    let bad = matching.count - done.count
                    row.append(Cell(value: mean, state: bad > 0 ? "\(bad) diverged/failed" : ""))
                } else if let s = matching.lazy.compactMap(\.status).first(where: \.isDivergedOrFailed) {
                    row.append(Cell(value: nil, state: s.word))
                } else if experiment.skipped.contains(where: { $0.values[x] == xv && (y == nil || $0.values[y ?? ""] == yv) }) {
                    row.append(Cell(value: nil, state: "skipped"))
                } else {
                    row.append(Cell(value: nil, state: "not run"))
                }
            }
            cells.append(row)
        }
        let range = colourRange(metric, values)
        let lo = range.lo, hi = range.hi
        func t(_ v: Double) -> Double { hi > lo ? (v - lo) / (hi - lo) : 0.5 }
        // Cells of 78 × 42 px with their values printed while the map fits the page; narrower
        // (values in the tooltips only) past that, and the box scrolls past `minimumCell`.
        let left = 96.0, top = 34.0
        let cw = min(78, max(Self.minimumCell, ((Self.pageWidth - left - 200) / Double(max(xs.count, 1))).rounded(.down)))
        let ch = ys.count > Self.manySettings ? max(14, (42 * Double(Self.manySettings) / Double(ys.count)).rounded(.down)) : 42.0
        let printed = cw >= 56 && ch >= 24
        let labelEvery = max(1, Int((48 / cw).rounded(.up)))
        let width = left + cw * Double(xs.count) + 200, height = top + ch * Double(ys.count) + 58
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\">"
        svg += "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f3f3f3\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#c8c8c8\" stroke-width=\"2\"/></pattern>"
        svg += "<linearGradient id=\"viridis\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">" + (0...8).map { "<stop offset=\"\(Double($0) / 8)\" stop-color=\"\(Viridis.color(Double($0) / 8))\"/>" }.joined() + "</linearGradient></defs>"
        for (j, yv) in ys.enumerated() {
            let cy = top + ch * Double(j)
            if y != nil, j % max(1, Int((16 / ch).rounded(.up))) == 0 { svg += "<text x=\"\(left - 8)\" y=\"\(cy + ch / 2 + 4)\" text-anchor=\"end\" font-size=\"13\">\(Self.escape(yv))</text>" }
            if spans(yv), let c = cells[j].first {
                // One cell across the row: the algorithm takes no such setting.
                let w = cw * Double(xs.count) - 2, note = "\(yv) takes no \(Self.short(x))"
                if let v = c.value {
                    let tv = t(v)
                    svg += "<rect x=\"\(left)\" y=\"\(cy)\" width=\"\(w)\" height=\"\(ch - 2)\" fill=\"\(Viridis.color(tv))\"><title>\(Self.escape("\(metric) = \(v) (\(note): one run per seed, whatever the value)\(c.state.isEmpty ? "" : " (\(c.state))")"))</title></rect>"
                    svg += "<text x=\"\(left + w / 2)\" y=\"\(cy + ch / 2 + 4)\" text-anchor=\"middle\" font-size=\"13\" fill=\"\(Viridis.wantsDarkText(tv) ? "#111" : "#fff")\">\(ChartScale.label(v))\(c.state.isEmpty ? "" : "*") (no \(Self.escape(Self.short(x))))</text>"
                } else {
                    svg += "<rect x=\"\(left)\" y=\"\(cy)\" width=\"\(w)\" height=\"\(ch - 2)\" fill=\"\(c.state == "not run" ? "url(#hatch)" : "#f6d5da")\"/>"
                    svg += "<text x=\"\(left + w / 2)\" y=\"\(cy + ch / 2 + 4)\" text-anchor=\"middle\" font-size=\"11.5\" fill=\"#666\">\(Self.escape("\(c.state) (\(note))"))</text>"
                }
                continue
            }
            for (i, _) in xs.enumerated() {
                let cx = left + cw * Double(i)
                let c = cells[j][i]
                if let v = c.value {
                    let tv = t(v)
                    svg += "<rect x=\"\(cx)\" y=\"\(cy)\" width=\"\(cw - 2)\" height=\"\(ch - 2)\" fill=\"\(Viridis.color(tv))\"><title>\(Self.escape("\(metric) = \(v)\(c.state.isEmpty ? "" : " (\(c.state))")"))</title></rect>"
                    if printed { svg += "<text x=\"\(cx + cw / 2 - 1)\" y=\"\(cy + ch / 2 + 4)\" text-anchor=\"middle\" font-size=\"13\" fill=\"\(Viridis.wantsDarkText(tv) ? "#111" : "#fff")\">\(ChartScale.label(v))\(c.state.isEmpty ? "" : "*")</text>" }
                } else {
                    let fill = c.state == "skipped" || c.state == "not run" ? "url(#hatch)" : "#f6d5da"
                    svg += "<rect x=\"\(cx)\" y=\"\(cy)\" width=\"\(cw - 2)\" height=\"\(ch - 2)\" fill=\"\(fill)\"><title>\(Self.escape(c.state))</title></rect>"
                    if printed { svg += "<text x=\"\(cx + cw / 2 - 1)\" y=\"\(cy + ch / 2 + 4)\" text-anchor=\"middle\" font-size=\"11.5\" fill=\"\(c.state == "skipped" || c.state == "not run" ? "#666" : "#b00020")\">\(Self.escape(c.state))</text>" }
                }
            }
        }
        // The predicted frontier (tau_max on x): outline the cells whose window reaches the
        // dataset's longest dependency, dashed where some injected errors do, solid where all do.
        var frontier = false
        if x.hasSuffix("tau_max") {
            for (j, yv) in ys.enumerated() {
                for (i, xv) in xs.enumerated() {
                    var tauB = y?.hasSuffix("tau_b") == true ? yv
                        : rows.first(where: { $0[x] == xv && (y == nil || $0[y!] == yv) })?["tau_b"]
                    var tauMax = xv
                    if xv == "adaptive" {  // the effective window: the cell's runs' mean chosen tau_max and tau_b
                        let cell = rows.filter { $0[x] == xv && (y == nil || $0[y!] == yv) }
                        let tms = cell.compactMap { $0["tau_max"].flatMap(Double.init) }, tbs = cell.compactMap { $0["tau_b"].flatMap(Double.init) }
                        guard !tms.isEmpty, !tbs.isEmpty else { continue }
                        tauMax = String(tms.reduce(0, +) / Double(tms.count))
                        tauB = String(tbs.reduce(0, +) / Double(tbs.count))
                    }
                    guard let reach = predictedReach(tauMax: tauMax, tauB: tauB), reach.some else { continue }
                    frontier = true
                    let cx = left + cw * Double(i), cy = top + ch * Double(j)
                    svg += "<rect x=\"\(cx + 1.5)\" y=\"\(cy + 1.5)\" width=\"\(cw - 5)\" height=\"\(ch - 5)\" fill=\"none\" stroke=\"#d81b60\" stroke-width=\"2.5\"\(reach.all ? "" : " stroke-dasharray=\"5 3\"")><title>predicted: \(reach.all ? "all" : "some") injected errors reach the dependency</title></rect>"
                }
            }
        }
        for (i, xv) in xs.enumerated() where i % labelEvery == 0 {
            svg += "<text x=\"\(left + cw * Double(i) + cw / 2 - 1)\" y=\"\(top + ch * Double(ys.count) + 16)\" text-anchor=\"middle\" font-size=\"13\">\(xv.isEmpty ? "none" : Self.escape(xv))</text>"
        }
        svg += "<text x=\"\(left + cw * Double(xs.count) / 2)\" y=\"\(top + ch * Double(ys.count) + 40)\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\">\(Self.escape(Self.short(x)))</text>"
        if let y {
            svg += "<text transform=\"translate(18,\(top + ch * Double(ys.count) / 2)) rotate(-90)\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\">\(Self.escape(Self.short(y)))</text>"
        }
        // Colour scale legend.
        let lx = left + cw * Double(xs.count) + 28, barH = max(ch * Double(ys.count) - 2, 60)
        svg += "<rect x=\"\(lx)\" y=\"\(top)\" width=\"16\" height=\"\(barH)\" fill=\"url(#viridis)\"/>"
        svg += "<text x=\"\(lx + 22)\" y=\"\(top + 10)\" font-size=\"12\">\(values.isEmpty ? "" : ChartScale.label(hi) + range.hiNote)</text>"
        svg += "<text x=\"\(lx + 22)\" y=\"\(top + barH)\" font-size=\"12\">\(values.isEmpty ? "" : ChartScale.label(lo) + range.loNote)</text>"
        svg += "<text x=\"\(lx)\" y=\"\(top - 12)\" font-size=\"12\">\(Self.escape(metric))</text>"
        svg += "</svg>"
        let averaged = (seedKeys.isEmpty ? [] : ["seeds"]) + settingKeys.filter { $0 != x && $0 != y }.map(Self.short)
        let title = y.map { "<code>\(Self.escape(metric))</code> over <code>\(Self.escape(Self.short($0)))</code> × <code>\(Self.escape(Self.short(x)))</code>" }
            ?? "<code>\(Self.escape(metric))</code> over <code>\(Self.escape(Self.short(x)))</code>"
        return """
            <h2>\(title)</h2>
            <p class="note">Each cell: \(printed ? "the value printed in it" : "its colour (hover for the value)"), the final value\(averaged.isEmpty ? "" : ", averaged over \(averaged.joined(separator: ", "))") over the done runs (summary-by-setting.csv's mean where the axes are the swept settings). Hatched: skipped (tau_b &gt; tau_max) or not run; red: every run diverged or failed; * some did.\(spansRows ? " A row across the columns: an algorithm that takes no \(Self.escape(Self.short(x))) (one run per setting whatever its value)." : "")\(frontier ? " Pink outline: the predicted frontier for the dataset's longest dependency lag \(experiment.lagRanges?.map(\.upperBound).max() ?? 0) (dashed: some injected errors reach it, tau_max ≥ L + 1; solid: all do, tau_max − tau_b ≥ L)." : "")</p>
            <div class="tablewrap"><figure>\(svg)</figure></div>

            """
    }
}

private extension RunStatus {
    var isDivergedOrFailed: Bool {
        switch self {
        case .diverged, .failed: return true
        case .done, .interrupted: return false
        }
    }
}
