import Foundation
import RNNCore

/// Writes `report.html` for one experiment's results folder: one self-contained file (inline SVG
/// and CSS, a few lines of inline script for sorting the table, nothing fetched) with the
/// experiment's facts, learning curves (mean over seeds with a min–max band), heatmaps of the
/// final metric over pairs of swept settings (averaged over seeds), and the summary table.
public struct HTMLReport {
    public struct Options: Sendable {
        public var x: String?
        public var y: String?
        public var metric: String?
        public var group: String?
        /// `--highlight KEY=VALUE` (repeatable): the settings with that value are drawn with their
        /// seed band when there are too many settings for every band (`manySettings`).
        public var highlight: [String]
        public init(x: String? = nil, y: String? = nil, metric: String? = nil, group: String? = nil, highlight: [String] = []) {
            self.x = x; self.y = y; self.metric = metric; self.group = group; self.highlight = highlight
        }
    }

    let dir: String
    let options: Options
    /// `experiment.json`.
    var experiment: ExperimentRecord
    /// `summary.csv`: its header (the runs table shows every column) and rows.
    var header: [String] = []
    var rows: [SummaryRow] = []
    /// Each run's epochs, from its folder.
    var curves: [String: [EpochRecord]] = [:]
    /// Each run's `credit.csv` (runs with diagnostics).
    var credit: [String: [CreditRow]] = [:]
    /// `summary-by-setting.csv`.
    var settings = ResultsCSV(path: "")

    /// Reads the experiment's `experiment.json` and `summary.csv`, and each listed run's folder
    /// through `ResultsStore.readRunFolder`.
    public init(directory: String, options: Options = Options()) throws(ReadError) {
        dir = directory
        guard let data = FileManager.default.contents(atPath: "\(dir)/experiment.json"),
              let experiment = ExperimentRecord.decode(data) else {
            throw ReadError(path: "\(dir)/experiment.json", reason: "missing or unreadable: is this a results folder written by rnn-exp run?")
        }
        self.experiment = experiment
        // Swept keys may be given by their short names (`tau_max` for `training.tau_max`).
        var options = options
        options.x = options.x.map { Self.sweptKey($0, in: experiment.sweptKeys) ?? $0 }
        options.y = options.y.map { Self.sweptKey($0, in: experiment.sweptKeys) ?? $0 }
        options.group = options.group.map { Self.sweptKey($0, in: experiment.sweptKeys) ?? $0 }
        self.options = options
        settings = ResultsCSV(path: "\(dir)/summary-by-setting.csv")
        let summary = ResultsCSV(path: "\(dir)/summary.csv")
        header = summary.header
        rows = summary.rows.map { SummaryRow(fields: $0, table: summary) }
        let metric = MetricKind.allCases.first { $0.columnName == experiment.metric } ?? .none
        // credit.csv exists with gradient diagnostics (summary.csv then has credit_horizon).
        (curves, credit) = Self.readCurves(rows.map(\.run), in: dir, metric: metric, credit: header.contains("credit_horizon"))
    }

    /// The swept key a name stands for: the dotted path itself or its short name.
    static func sweptKey(_ name: String, in keys: [String]) -> String? {
        if keys.contains(name) { return name }
        let short = SweepGrid.shortNames(keys)
        return short.firstIndex(of: name).map { keys[$0] }
    }

    /// What is wrong with the options, as errors that name the option (`--metric final_val_los: …`): a
    /// `--metric` that is not a column of summary.csv, an `--x`, `--y` or `--group` that is not a
    /// swept key, each with a did-you-mean. Empty when the report can use them all.
    public func optionErrors() -> [ConfigError] {
        var errors: [ConfigError] = []
        let keys = experiment.sweptKeys
        let names = Array(Set(keys + SweepGrid.shortNames(keys))).sorted()
        for (option, value) in [("--x", options.x), ("--y", options.y), ("--group", options.group)] {
            guard let value, !keys.contains(value) else { continue }
            errors.append(Self.unknown(option, value, among: keys, suggesting: names, what: "a swept key", listName: "swept",
                                       whenNone: "the experiment sweeps nothing: there is no swept key to use"))
        }
        errors += highlightErrors()
        if let m = options.metric, !header.contains(m) {
            errors.append(Self.unknown("--metric", m, among: header, suggesting: header, what: "a column of summary.csv",
                                       listName: "columns", whenNone: "\(dir)/summary.csv has no columns yet"))
        }
        return errors
    }

    /// `option value` names none of `known`: a located error with a did-you-mean from `names`, or
    /// the whole list, or `whenNone` when there is nothing to choose from.
    static func unknown(_ option: String, _ value: String, among known: [String], suggesting names: [String],
                        what: String, listName: String, whenNone: String) -> ConfigError {
        let at = SourceLocation.option(option, value)
        if known.isEmpty { return ConfigError(at, "", whenNone) }
        if let s = Suggestion.closest(to: value, in: names) { return ConfigError(at, "", "not \(what); did you mean \(s)?") }
        return ConfigError(at, "", "not \(what) (\(listName): \(known.joined(separator: ", ")))")
    }

    /// A results file the report needs is missing or unreadable.
    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot read \(path): \(reason)" }
    }

    public func write() throws(WriteError) -> String {
        let path = "\(dir)/report.html"
        try AtomicFile.write(html(), to: path)
        return path
    }

    // MARK: Helpers

    /// `s` with `& < > "` as entities. Most text has none of them and is returned as is (a
    /// 6,000-run report escapes a few hundred thousand fields).
    static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Display names in the seed's notation: `training.tau_max` → `tau_max`.
    /// `tau_max=4, seed=1`: each key's short name and value; a key without a value (an online
    /// run's tau_max, SPEC 3.3) is left out.
    static func settingLabel<Keys: Sequence<String>>(_ keys: Keys, value: (String) -> String?) -> String {
        keys.compactMap { k in value(k).flatMap { $0.isEmpty ? nil : "\(short(k))=\($0)" } }.joined(separator: ", ")
    }

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
    /// A swept value as an axis value: a number, `full` (no truncation), `random` (random
    /// truncation) or `adaptive` (adaptive tau_max, SPEC 3.4); nil for other text. Only whether it
    /// is nil is used (axes keep the sweep's order).
    static func numeric(_ s: String) -> Double? { ["full", "random", "adaptive"].contains(s) ? .infinity : Double(s) }

    // MARK: Learning curves

    struct Series {
        var label: String
        var group: String
        var runs: [String]
        /// Its first run's row (its settings' values).
        var row: SummaryRow?
    }

    func series() -> (groupKey: String?, list: [Series]) {
        let groupKey = options.group ?? settingKeys.first
        var order: [String] = []
        var byLabel: [String: Series] = [:]
        for r in rows {
            let id = r.run
            let label = Self.settingLabel(settingKeys) { r[$0] }
            let group = groupKey.flatMap { r[$0] } ?? ""
            if byLabel[label] == nil { order.append(label); byLabel[label] = Series(label: label.isEmpty ? "all runs" : label, group: group, runs: [], row: r) }
            byLabel[label]!.runs.append(id)
        }
        return (groupKey, order.map { byLabel[$0]! })
    }

    /// Dash patterns told apart at a glance, for the settings that share a colour.
    static let dashPatterns = ["", "7 4", "2 3", "9 3 2 3", "14 4", "4 2 1 2", "1 3", "12 3 3 3 3 3"]

    /// Each series' colour (by its value of the colouring key, viridis in sweep order) and dash
    /// (its place among the series of that colour).
    func lineStyles(_ list: [Series], groupKey: String?) -> [String: (color: String, dash: String)] {
        let groupValues = groupKey.flatMap { experiment.sweepValues[$0] } ?? Array(Set(list.map(\.group))).sorted()
        var styles: [String: (color: String, dash: String)] = [:]
        var seenInGroup: [String: Int] = [:]
        for s in list {
            let i = groupValues.firstIndex(of: s.group) ?? 0
            let color = Viridis.color(groupValues.count > 1 ? 0.88 * Double(i) / Double(groupValues.count - 1) : 0.35)
            let k = seenInGroup[s.group, default: 0]
            seenInGroup[s.group] = k + 1
            styles[s.label] = (color, Self.dashPatterns[k % Self.dashPatterns.count])
        }
        return styles
    }

    /// The legend as one row per colour: the colouring key's value, then a dashed sample and the
    /// other settings of each line of that colour (stays readable with a dozen or more settings).
    func legend(_ list: [Series], groupKey: String?, styles: [String: (color: String, dash: String)]) -> String {
        func sample(_ style: (color: String, dash: String)) -> String {
            "<svg width=\"30\" height=\"10\" aria-hidden=\"true\"><line x1=\"1\" y1=\"5\" x2=\"29\" y2=\"5\" stroke=\"\(style.color)\" stroke-width=\"3\"\(style.dash.isEmpty ? "" : " stroke-dasharray=\"\(style.dash)\"")/></svg>"
        }
        var groups: [String] = [], members: [String: [Series]] = [:]
        for s in list {
            if members[s.group] == nil { groups.append(s.group) }
            members[s.group, default: []].append(s)
        }
        let others = settingKeys.filter { $0 != groupKey }
        if groups.allSatisfy({ (members[$0]?.count ?? 0) == 1 }) {
            // One line per colour: a single wrapped row of samples and labels.
            var out = "<div class=\"legend\"><div class=\"legend-row\">"
            for s in list { if let st = styles[s.label] { out += "<span>\(sample(st))\(Self.escape(s.label))</span>" } }
            return out + "</div></div>"
        }
        var out = "<div class=\"legend\">"
        for g in groups {
            let items = members[g] ?? []
            let head = groupKey.map { "\(Self.short($0))=\(g)" } ?? ""
            out += "<div class=\"legend-row\">"
            if !head.isEmpty, let first = items.first, let st = styles[first.label] {
                out += "<b style=\"color:\(st.color)\">\(Self.escape(head))</b>"
            }
            for s in items {
                guard let st = styles[s.label] else { continue }
                var text = s.label
                if groupKey != nil, !others.isEmpty {
                    text = Self.settingLabel(others) { k in s.row?[k] }
                } else if groupKey != nil {
                    text = ""
                }
                out += "<span>\(sample(st))\(Self.escape(text))</span>"
            }
            out += "</div>"
        }
        return out + "</div>"
    }

    /// The value every row shares in `column` (the task's baseline or floor), if any.
    func sharedValue(_ column: String) -> Double? {
        let values = rows.compactMap { $0[column].flatMap(Double.init) }.filter(\.isFinite)
        guard let first = values.first, values.count == rows.count,
              values.allSatisfy({ abs($0 - first) <= 1e-9 * max(1, abs(first)) }) else { return nil }
        return first
    }

    /// The task's baseline and floor losses, when every run shares them.
    var lossReferences: [(label: String, value: Double)] {
        [("baseline", sharedValue("baseline_loss")), ("floor", sharedValue("floor_loss"))].compactMap { r in r.1.map { (r.0, $0) } }
    }

    /// Points a learning curve keeps at most: longer runs are sampled at evenly spaced epochs
    /// (the first and the last kept), so that the page's size does not grow with the epochs.
    static let curvePoints = 120

    /// At most `limit` of `sorted`, evenly spaced, the first and the last kept.
    static func sampled<T>(_ sorted: [T], limit: Int) -> [T] {
        guard sorted.count > limit, limit >= 2 else { return sorted }
        let step = Double(sorted.count - 1) / Double(limit - 1)
        var out: [T] = [], last = -1
        for i in 0..<limit {
            let k = min(sorted.count - 1, Int((Double(i) * step).rounded()))
            if k != last { out.append(sorted[k]); last = k }
        }
        return out
    }

    func learningCurves() -> String {
        let (groupKey, list) = series()
        guard !list.isEmpty else { return "<h2>Learning curves</h2><p>No finished runs yet.</p>" }
        let style = curveStyle(list, groupKey: groupKey)
        let styles = style.styles
        func chart(_ title: String, references: [(label: String, value: Double)] = [], _ pick: (EpochRecord) -> Double?) -> String? {
            var lines: [(label: String, color: String, dash: String, points: [(Double, Double, Double, Double)])] = []
            var all: [Double] = [], epochs: [Double] = []
            for s in list {
                var byEpoch: [Double: [Double]] = [:]
                for run in s.runs { for p in curves[run] ?? [] { if let v = pick(p) { byEpoch[Double(p.epoch), default: []].append(v) } } }
                var pts: [(Double, Double, Double, Double)] = []
                for e in Self.sampled(byEpoch.keys.sorted(), limit: Self.curvePoints) {
                    let v = byEpoch[e]!.filter { $0.isFinite }
                    guard !v.isEmpty else { continue }
                    pts.append((e, v.reduce(0, +) / Double(v.count), v.min()!, v.max()!))
                    all += v
                    epochs.append(e)
                }
                let st = styles[s.label] ?? ("#444", "")
                lines.append((s.label, st.color, st.dash, pts))
            }
            guard !all.isEmpty else { return nil }
            var chart = LineChart(title: title, xLabel: "epoch", yLabel: title, series: lines, yValues: all, xValues: epochs,
                                  references: references)
            chart.highlighted = style.highlighted
            return chart.svg()
        }
        let refs = lossReferences
        var figures = [chart("train_loss", references: refs) { $0.trainLoss }, chart("val_loss", references: refs) { $0.valLoss }]
        if !experiment.metric.isEmpty { figures.append(chart(experiment.metric) { $0.metric }) }
        let gradCos = chart("grad_cos") { $0.gradCos }
        figures.append(gradCos)
        let seeds = seedKeys.isEmpty ? "" : " Lines are the mean over seeds (<code>\(seedKeys.map(Self.short).joined(separator: ", "))</code>); the band spans their minimum to maximum"
            + (style.highlighted == nil ? "." : ", drawn for the highlighted settings only (\(list.count) settings: one thin line each).")
        let refNote = refs.isEmpty ? "" : " Dashed pink: the task's " + refs.map { "\($0.label) \(ChartScale.label($0.value))" }.joined(separator: " and ") + " (summary.csv's baseline_loss, floor_loss)."
        return """
            <h2>Learning curves</h2>
            <p class="note">Per epoch (epoch 0: the initial weights)\(style.colourKey.map { ", coloured by <code>\(Self.escape(Self.short($0)))</code>" } ?? "").\(seeds)\(refNote)\(gradCos != nil ? " <code>grad_cos</code>: the cosine between each sampled update's truncated gradient and the untruncated one (1: truncation changes nothing)." : "")</p>
            \(style.legend)
            <div class="charts">
            \(figures.compactMap { $0 }.map { "<figure>\($0)</figure>" }.joined(separator: "\n"))
            </div>

            """
    }

    // MARK: Table

    /// The run table's columns: `run, status`, the results (final and best losses, the metric,
    /// the gradient diagnostics), the swept keys, then every other column of summary.csv.
    static func tableOrder(_ header: [String], sweptKeys: [String]) -> [String] {
        let results = ["final_val_loss", "best_val_loss"] + header.filter { $0.hasPrefix("final_val_") && $0 != "final_val_loss" }
            + ["mean_grad_cos", "mean_grad_rel_bias", "credit_horizon", "final_train_loss", "best_epoch"]
        let first = ["run", "status"] + results + sweptKeys
        return first.filter(header.contains) + header.filter { !first.contains($0) }
    }

    /// Runs the table shows in full; a larger experiment's table shows its `tableExtremes` best and
    /// worst runs and its first diverged or failed ones, and links summary.csv for the rest.
    static let fullTableRuns = 200
    static let tableExtremes = 25

    func table() -> String {
        guard !header.isEmpty else { return "" }
        let columns = Self.tableOrder(header, sweptKeys: experiment.sweptKeys)
        let summaryLink = "<a href=\"summary.csv\">summary.csv</a>"
        guard rows.count > Self.fullTableRuns else {
            return "<h2>Runs</h2><p class=\"note\">Results first, then the swept settings and the rest of \(summaryLink). Click a column to sort. Each run links to its folder's files.</p>"
                + runTable(rows, columns: columns)
        }
        let metric = metricColumn, n = Self.tableExtremes
        let ranked = rows.compactMap { r -> (SummaryRow, Double)? in
            guard r.status == .done, let v = r[metric].flatMap(Double.init), v.isFinite else { return nil }
            return (r, v)
        }.sorted { Self.lowerIsBetter(metric) ? $0.1 < $1.1 : $0.1 > $1.1 }.map(\.0)
        let bad = rows.filter { $0.status != .done }
        var out = "<h2>Runs</h2><p class=\"note\">\(rows.count) runs: the \(min(n, ranked.count)) best and the \(min(n, max(0, ranked.count - n))) worst by <code>\(Self.escape(metric))</code>"
        out += bad.isEmpty ? "" : bad.count <= n ? " and the \(bad.count) not done" : " and the first \(n) of the \(bad.count) not done"
        out += ". Every run, with every column, is in \(summaryLink) (the settings' statistics in <a href=\"summary-by-setting.csv\">summary-by-setting.csv</a>). Click a column to sort; each run links to its folder's files.</p>"
        out += "<h3>Best \(min(n, ranked.count))</h3>" + runTable(Array(ranked.prefix(n)), columns: columns)
        if ranked.count > n { out += "<h3>Worst \(min(n, ranked.count - n))</h3>" + runTable(Array(ranked.suffix(min(n, ranked.count - n)).reversed()), columns: columns) }
        if !bad.isEmpty { out += "<h3>Not done (\(bad.count <= n ? "\(bad.count)" : "first \(n) of \(bad.count)"))</h3>" + runTable(Array(bad.prefix(n)), columns: columns) }
        return out
    }

    /// Whether a smaller value of `metric` is the better one (a loss, bits per character), not
    /// (an accuracy, a cosine with the true gradient).
    static func lowerIsBetter(_ metric: String) -> Bool {
        !(metric.contains("accuracy") || metric.hasSuffix("grad_cos") || metric.hasSuffix("steps_per_s"))
    }

    func runTable(_ shown: [SummaryRow], columns: [String]) -> String {
        var out = "<div class=\"tablewrap\"><table class=\"sortable\"><thead><tr>"
        out += columns.map { "<th>\(Self.escape($0))</th>" }.joined() + "<th>files</th></tr></thead><tbody>"
        for r in shown {
            out += "<tr class=\"\(Self.escape(r.status?.word ?? ""))\">"
            for h in columns {
                let v = r[h] ?? ""
                let shown = v.count > 9 ? Double(v).map { ChartScale.label($0) } ?? v : v
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
    /// `done`, `diverged` or `failed` (the summary keeps the word only: no epoch, no reason).
    let status: RunStatus?
    let wallSeconds: Double?
    private let values: [String: String]

    init(fields: [String], table: ResultsCSV) {
        run = table.field(fields, "run") ?? ""
        status = table.field(fields, "status").flatMap(RunStatus.parse)
        wallSeconds = table.field(fields, "wall_s").flatMap(Double.init)
        var values: [String: String] = [:]
        for h in table.header { values[h] = table.field(fields, h) }
        self.values = values
    }

    /// The field under `column` (nil when the table has no such column). A swept key that
    /// summary.csv shows in its fixed column (`training.seed` in `seed`) reads from there.
    subscript(column: String) -> String? {
        values[column] ?? SummaryTable.fixedColumn(forKey: column).flatMap { values[$0] }
    }
}
