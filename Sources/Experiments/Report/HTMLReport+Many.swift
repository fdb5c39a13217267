import Foundation

/// Charts that stay readable at hundreds of settings (issue 34): past `manySettings` settings the
/// learning curves are each setting's mean only, coloured along a colour bar instead of a legend,
/// and only a few highlighted settings (best, median, worst by the final metric, and those of
/// `--highlight KEY=VALUE`) keep their seed band, a wider line and a legend entry.
extension HTMLReport {
    /// Settings a chart shows with a legend entry and a band each; more get the colour bar.
    static let manySettings = 12

    /// Colours of the highlighted settings, told apart from the viridis lines: black for best,
    /// median and worst (solid, dashed, dotted), Okabe–Ito for those of `--highlight`.
    static let highlightColours = ["#D55E00", "#CC79A7", "#E69F00", "#0072B2", "#009E73", "#56B4E9"]

    // MARK: --highlight

    /// `--highlight` values that name a swept key and one of its values, keys resolved to their
    /// dotted paths and values to the sweep's spelling (`1e-3` → `0.001`). Malformed ones are
    /// left out (`highlightErrors` names them).
    var highlightPairs: [(key: String, value: String)] {
        options.highlight.compactMap { text in
            guard let eq = text.firstIndex(of: "=") else { return nil }
            let name = String(text[..<eq]), value = String(text[text.index(after: eq)...])
            guard let key = Self.sweptKey(name, in: experiment.sweptKeys),
                  let known = (experiment.sweepValues[key] ?? []).first(where: { Self.sameValue($0, value) }) else { return nil }
            return (key, known)
        }
    }

    /// What is wrong with each `--highlight`: not `KEY=VALUE`, a key that is not swept (with a
    /// did-you-mean), a value the key was not swept over (with its values).
    func highlightErrors() -> [ConfigError] {
        let keys = experiment.sweptKeys
        let names = Array(Set(keys + SweepGrid.shortNames(keys))).sorted()
        var errors: [ConfigError] = []
        for text in options.highlight {
            let at = SourceLocation.option("--highlight", text)
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                errors.append(ConfigError(at, "", "not KEY=VALUE (e.g. --highlight lr=0.001)"))
                continue
            }
            let name = String(text[..<eq]), value = String(text[text.index(after: eq)...])
            guard let key = Self.sweptKey(name, in: keys) else {
                let reason = keys.isEmpty ? "the experiment sweeps nothing: there is no setting to highlight"
                    : Suggestion.closest(to: name, in: names).map { "\(name) is not a swept key; did you mean \($0)?" }
                    ?? "\(name) is not a swept key (swept: \(keys.joined(separator: ", ")))"
                errors.append(ConfigError(at, "", reason))
                continue
            }
            let values = experiment.sweepValues[key] ?? []
            if !values.contains(where: { Self.sameValue($0, value) }) {
                let shown = values.count > 12 ? values.prefix(5).joined(separator: ", ") + ", …, " + values.suffix(3).joined(separator: ", ")
                    : values.joined(separator: ", ")
                errors.append(ConfigError(at, "", "\(Self.short(key)) was not swept over \(value) (its values: \(shown))"))
            }
        }
        return errors
    }

    /// The same swept value, as written or as numbers (`0.001` and `1e-3`).
    static func sameValue(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        guard let x = Double(a), let y = Double(b) else { return false }
        return x == y
    }

    // MARK: Curve styles

    struct CurveStyle {
        /// Each series' colour and dash, by label.
        var styles: [String: (color: String, dash: String)]
        /// The legend (few settings) or the colour bar and the highlighted settings (many).
        var legend: String
        /// Nil: every series with its band (few settings); else the labels drawn with a band.
        var highlighted: Set<String>?
        /// The key the colours follow.
        var colourKey: String?
    }

    /// Each series' final metric (`metricColumn`, mean over its done runs with a finite value),
    /// best first; series without one are left out.
    func ranked(_ list: [Series]) -> [(series: Series, value: Double)] {
        let metric = metricColumn
        var byRun: [String: SummaryRow] = [:]
        for r in rows { byRun[r.run] = r }
        let scored = list.compactMap { s -> (Series, Double)? in
            let v = s.runs.compactMap { byRun[$0] }.filter { $0.status == .done }.compactMap { $0[metric].flatMap(Double.init) }.filter(\.isFinite)
            return v.isEmpty ? nil : (s, v.reduce(0, +) / Double(v.count))
        }
        let lower = Self.lowerIsBetter(metric)
        return scored.sorted { lower ? $0.1 < $1.1 : $0.1 > $1.1 }
    }

    /// The settings drawn highlighted among many: best, median and worst by the final metric,
    /// then those of `--highlight`, each with its role, colour and dash (one entry per series).
    func highlights(_ list: [Series]) -> [(series: Series, role: String, color: String, dash: String)] {
        var out: [(series: Series, role: String, color: String, dash: String)] = []
        var taken = Set<String>()
        func add(_ s: Series, _ role: String, _ color: String, _ dash: String) {
            guard taken.insert(s.label).inserted else { return }
            out.append((s, role, color, dash))
        }
        let order = ranked(list)
        let metric = metricColumn
        if let best = order.first { add(best.series, "best \(metric) \(ChartScale.label(best.value))", "#111111", "") }
        if order.count >= 3 { let m = order[order.count / 2]; add(m.series, "median \(ChartScale.label(m.value))", "#111111", "7 4") }
        if order.count >= 2, let worst = order.last { add(worst.series, "worst \(ChartScale.label(worst.value))", "#111111", "2 3") }
        for (i, pair) in highlightPairs.enumerated() {
            let color = Self.highlightColours[i % Self.highlightColours.count]
            for s in list where s.row.map({ r in r[pair.key].map { Self.sameValue($0, pair.value) } ?? false }) == true {
                add(s, "--highlight \(Self.short(pair.key))=\(pair.value)", color, "")
            }
        }
        return out
    }

    /// The styles and legend of a set of curves: `lineStyles` and `legend` up to `manySettings`
    /// series; past that a colour bar along the colouring key (`--group`, else the numeric key with
    /// the most values) and a legend of the highlighted series only.
    func curveStyle(_ list: [Series], groupKey: String?) -> CurveStyle {
        guard list.count > Self.manySettings else {
            let styles = lineStyles(list, groupKey: groupKey)
            return CurveStyle(styles: styles, legend: legend(list, groupKey: groupKey, styles: styles), highlighted: nil, colourKey: groupKey)
        }
        let colourKey = options.group ?? colouringKey ?? groupKey
        var regrouped = list
        for i in regrouped.indices { regrouped[i].group = colourKey.flatMap { k in regrouped[i].row?[k] } ?? "" }
        var styles = lineStyles(regrouped, groupKey: colourKey)
        let marked = highlights(list)
        for h in marked { styles[h.series.label] = (h.color, h.dash) }
        var legend = "<div class=\"legend\"><div class=\"legend-row\">"
        if let colourKey {
            legend += Self.colourBar(key: colourKey, values: experiment.sweepValues[colourKey] ?? [])
        }
        // Other settings that share a colour: a dash each, in the order they were swept.
        let others = settingKeys.filter { $0 != colourKey }
        var dashes: [String: String] = [:]
        var seen = Set<String>()
        for s in regrouped where !others.isEmpty {
            let text = Self.settingLabel(others) { k in s.row?[k] }
            guard seen.insert(text).inserted, let st = styles[s.label], !marked.contains(where: { $0.series.label == s.label }) else { continue }
            dashes[text] = st.dash
        }
        if dashes.count > 1, dashes.count <= Self.dashPatterns.count {
            for (text, dash) in dashes.sorted(by: { $0.key < $1.key }) {
                legend += "<span>\(Self.lineSample("#555", dash))\(Self.escape(text))</span>"
            }
        }
        legend += "<span class=\"note\">\(list.count) settings: one thin line each (the mean over seeds)</span></div><div class=\"legend-row\">"
        for h in marked {
            legend += "<span>\(Self.lineSample(h.color, h.dash))<b>\(Self.escape(h.role))</b>: \(Self.escape(h.series.label))</span>"
        }
        legend += "</div></div>"
        return CurveStyle(styles: styles, legend: legend, highlighted: Set(marked.map(\.series.label)), colourKey: colourKey)
    }

    /// The numeric setting with the most values (ties: the first), if any has two or more.
    var colouringKey: String? {
        var best: (key: String, count: Int)?
        for k in settingKeys {
            let values = (experiment.sweepValues[k] ?? []).filter { !$0.isEmpty }
            guard values.count > 1, values.allSatisfy({ Double($0) != nil }) else { continue }
            if values.count > (best?.count ?? 0) { best = (k, values.count) }
        }
        return best?.key ?? settingKeys.first
    }

    static func lineSample(_ color: String, _ dash: String) -> String {
        "<svg width=\"30\" height=\"10\" aria-hidden=\"true\"><line x1=\"1\" y1=\"5\" x2=\"29\" y2=\"5\" stroke=\"\(color)\" stroke-width=\"3\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/></svg>"
    }

    /// A horizontal colour bar for `key`'s values in sweep order (the colours `lineStyles` gives:
    /// viridis from 0 to 0.88), labelled at about five evenly spaced values.
    static func colourBar(key: String, values: [String]) -> String {
        let w = 380.0, left = 8.0, barTop = 16.0
        var s = "<svg class=\"colourbar\" width=\"\(Int(w + 2 * left + 40))\" height=\"44\" viewBox=\"0 0 \(Int(w + 2 * left + 40)) 44\" role=\"img\" aria-label=\"colour bar: \(escape(short(key)))\">"
        s += "<defs><linearGradient id=\"bar-\(escape(short(key)))\">" + (0...8).map { "<stop offset=\"\(Double($0) / 8)\" stop-color=\"\(Viridis.color(0.88 * Double($0) / 8))\"/>" }.joined() + "</linearGradient></defs>"
        s += "<text x=\"\(left)\" y=\"11\" font-size=\"12\" font-weight=\"600\">\(escape(short(key)))</text>"
        s += "<rect x=\"\(left)\" y=\"\(barTop)\" width=\"\(w)\" height=\"10\" fill=\"url(#bar-\(escape(short(key))))\"/>"
        let n = values.count
        guard n > 0 else { return s + "</svg>" }
        let marks = Array(Set((0..<5).map { n == 1 ? 0 : Int((Double($0) * Double(n - 1) / 4).rounded()) })).sorted()
        for i in marks {
            let x = left + (n == 1 ? 0 : w * Double(i) / Double(n - 1))
            let anchor = i == 0 ? "start" : i == n - 1 ? "end" : "middle"
            s += "<line x1=\"\(x)\" y1=\"\(barTop + 10)\" x2=\"\(x)\" y2=\"\(barTop + 14)\" stroke=\"#555\"/>"
            s += "<text x=\"\(x)\" y=\"\(barTop + 26)\" text-anchor=\"\(anchor)\" font-size=\"11\">\(escape(values[i].isEmpty ? "none" : values[i]))</text>"
        }
        return s + "</svg>"
    }
}
