import Foundation
import RNNDatasets

/// One run of a grid: its id, the swept values that picked it, and its resolved configuration.
public struct PlannedRun: Sendable {
    public let id: String
    /// (dotted path, value as written in the YAML) for every swept key.
    public let swept: [(key: String, text: String)]
    public let config: ExperimentConfig
    /// The canonical YAML the id's hash was computed from (`config.yaml` is its `RunConfigFile`).
    public let canonical: String
}

/// A grid point left out, and why (e.g. `tau_b > tau_max`).
public struct SkippedPoint: Sendable, Equatable {
    public let label: String
    public let reason: String
    /// (dotted path, value as written) of the point's swept keys.
    public let values: [(key: String, text: String)]

    public init(label: String, reason: String, values: [(key: String, text: String)] = []) {
        self.label = label
        self.reason = reason
        self.values = values
    }

    public static func == (a: SkippedPoint, b: SkippedPoint) -> Bool { a.label == b.label && a.reason == b.reason }
}

/// Everything one experiment file expands to.
public struct ExperimentPlan: Sendable {
    public let name: String
    public let description: String
    public let file: String
    public let sweptKeys: [String]
    /// The runs selected to train or show (`--only`, or `--set` naming values the grid already
    /// has): every run of the grid when nothing narrows it.
    public let runs: [PlannedRun]
    /// The grid points skipped as invalid, among the selected ones.
    public let skipped: [SkippedPoint]
    public let datasets: DatasetCatalog
    /// Every run of the grid, selected or not: the experiment's summaries cover these, so running
    /// part of a grid never drops finished runs from them.
    public let gridRuns: [PlannedRun]
    /// Every grid point skipped as invalid.
    public let gridSkipped: [SkippedPoint]
    /// What narrows the grid, as `tau_max=8` or `seed=1,2` (empty: the whole grid).
    public let selection: [String]
    /// Grid points (among the selected ones) that are the same run as an earlier point: the points
    /// of an algorithm that differ only in a setting it does not take (SPEC 3.3: `tau_max` at an
    /// online algorithm's points, `rflo_decay` at every algorithm's but rflo's).
    public var collapsed: [SkippedPoint] = []
    /// Every such point of the grid.
    public var gridCollapsed: [SkippedPoint] = []
}

/// A narrowing of a grid to the points whose swept `key` has one of `texts` (as written).
struct GridSelection: Sendable {
    let key: String
    let texts: [String]

    func admits(_ keys: [String], _ values: [String]) -> Bool {
        guard let i = keys.firstIndex(of: key) else { return true }
        return texts.contains { Planner.sameValue($0, values[i]) }
    }

    func label(_ keys: [String]) -> String {
        let short = SweepGrid.shortNames(keys)
        let name = keys.firstIndex(of: key).map { short[$0] } ?? key
        return "\(name)=\(texts.joined(separator: ","))"
    }
}

/// Reads experiment files, applies `--set` overrides, expands every grid and validates every
/// point before anything runs. Besides the experiment files it reads the data files they name
/// (csv and text datasets, through the catalog; checksummed for the canonical YAML) and decodes
/// `model.init_from` to check it against the model; it writes nothing.
public enum Planner {
    /// `overrides`: `--set PATH=VALUE` arguments; a swept key set to values its list already has
    /// (`--set training.tau_max=8`, `--set 'sweep.training.tau_max=[8]'`) selects those points
    /// instead, so the grid, its run ids and its summaries stay those of the file. `only`:
    /// `--only KEY=VALUE[,VALUE]` arguments, selections by swept key (dotted path or short name).
    public static func plan(files: [String], overrides: [String] = [], only: [String] = [],
                            cache: DatasetCatalog = DatasetCatalog()) -> Result<[ExperimentPlan], ConfigErrors>
    {
        var plans: [ExperimentPlan] = [], errors: [ConfigError] = []
        var owners: [String: String] = [:]
        for path in files {
            switch planFile(path, overrides: overrides, only: only, cache: cache) {
            case .success(let p):
                if let other = owners[p.name], other != p.file {
                    errors.append(ConfigError(SourceLocation(file: path, line: 1, column: 1), "name",
                                              "'\(p.name)' is also the name of \(other): both would write results/\(p.name)/"))
                } else if owners[p.name] == nil {
                    owners[p.name] = p.file
                    plans.append(p)
                }
            case .failure(let e): errors += e.errors
            }
        }
        return errors.isEmpty ? .success(plans) : .failure(ConfigErrors(errors))
    }

    static func planFile(_ path: String, overrides: [String], only: [String] = [], cache: DatasetCatalog) -> Result<ExperimentPlan, ConfigErrors> {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let start = SourceLocation(file: path, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: absolute) else {
            let exists = FileManager.default.fileExists(atPath: absolute)
            return .failure(ConfigErrors([ConfigError(start, "", exists ? "cannot read the file" : "file not found")]))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(ConfigErrors([ConfigError(start, "", "the file is not valid UTF-8")]))
        }
        var root: ConfigNode
        do { root = try ConfigNode.parse(yaml: text, file: path) } catch { return .failure(error) }
        var errors: [ConfigError] = []
        var selections: [GridSelection] = []
        for o in overrides {
            switch override(o, root: root) {
            case .success(.document(let r)): root = r
            case .success(.selection(let s)): selections.append(s)
            case .success(.widened(let r, let s)): root = r; selections.append(s)
            case .failure(let e): errors.append(e)
            }
        }
        let (axes, sweepErrors) = SweepGrid.axes(root["sweep"])
        errors += sweepErrors
        if sweepErrors.isEmpty {
            for o in only {
                switch selection(only: o, axes: axes) {
                case .success(let s): selections.append(s)
                case .failure(let e): errors.append(e)
                }
            }
        }
        guard errors.isEmpty else {
            // Still report what is wrong with the document itself: with a grid point's values
            // (the document alone may be no valid point, e.g. a stream whose tau_max is swept).
            return .failure(ConfigErrors(errors + documentErrors(root, axes: axes, file: absolute, cache: cache)))
        }
        let keys = axes.flatMap(\.keys)
        let names = SweepGrid.shortNames(keys)
        let sweepsTau = keys.contains { $0 == "training.tau_b" || $0 == "training.tau_max" }
        let sweepsAlgorithm = keys.contains("training.algorithm")
        let sweepsTauMax = keys.contains("training.tau_max")
        let sweepsWindow = sweepsTauMax || keys.contains("training.style.K")
        var collapsedReason: [String: String] = [:]
        var collapsed: [SkippedPoint] = [], gridCollapsed: [SkippedPoint] = []
        var runs: [PlannedRun] = [], skipped: [SkippedPoint] = []
        var gridRuns: [PlannedRun] = [], gridSkipped: [SkippedPoint] = []
        var ids = Set<String>()
        var first: ExperimentConfig? = nil
        var failures: [(label: String, errors: [ConfigError])] = []
        let points = SweepGrid.expand(axes)
        for point in points {
            var doc = root
            var pointErrors: [ConfigError] = []
            for a in point.assignments {
                switch SweepGrid.apply(a.path, keyAt: a.keyAt, value: a.value, to: doc) {
                case .success(let d): doc = d
                case .failure(let e): pointErrors.append(e)
                }
            }
            var values = point.assignments.map { $0.value.flowText }
            let label = zip(names, values).map { "\($0)=\($1)" }.joined(separator: ",")
            // A setting that belongs to another algorithm than the point's (SPEC 3.3: tau_max to
            // bptt, rflo_decay to rflo) is dropped at the points of a grid that sweeps the
            // algorithm, swept or fixed, so the points that differ only in it are one run.
            var dropped = Set<Int>()
            func drop(_ key: String, because reason: String) {
                guard let without = Self.removing(key, from: doc) else { return }
                doc = without
                for i in keys.indices where keys[i] == key || keys[i].hasPrefix(key + ".") {
                    collapsedReason[label] = reason
                    dropped.insert(i)
                    values[i] = ""
                }
            }
            if sweepsAlgorithm {
                let algorithm = Self.algorithmName(doc)
                for key in Self.keysNotTaken(by: algorithm) {
                    drop(key, because: "\(algorithm.rawValue) takes no \(key.dropFirst("training.".count))")
                }
            }
            // Random and adaptive truncation's own settings (SPEC 3.4) are ignored at the points of
            // a tau_max (or style.K) list whose value is a window, as another algorithm's are, and
            // each one's at the other's points.
            if sweepsWindow {
                let tauMax = doc["training"]?["tau_max"]?.text, styleK = doc["training"]?["style"]?["K"]?.text
                let shown = styleK.map { "K \($0)" } ?? "tau_max \(tauMax ?? "full")"
                if tauMax == "random" || styleK == "random" {
                    for key in ["delta", "every", "max_lag"] {
                        drop("training.truncation.\(key)", because: "\(shown) takes no \(key) (adaptive's)")
                    }
                    if sweepsTauMax { drop("training.tau_b", because: "tau_max random takes no tau_b") }  // its updates are where truncations are drawn
                } else if tauMax == "adaptive" || styleK == "adaptive" {
                    drop("training.truncation.continue", because: "\(shown) takes no continue (random's)")
                    if sweepsTauMax && styleK == nil { drop("training.tau_b", because: "tau_max adaptive takes no tau_b") }  // it follows the chosen window
                } else {
                    drop("training.truncation", because: "\(shown) takes no truncation settings")
                }
            }
            let idNames = names.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
            var resolver = ConfigResolver(file: absolute, cache: cache)
            let config = pointErrors.isEmpty ? resolver.resolve(doc) : nil
            pointErrors += resolver.errors
            let selected = selections.allSatisfy { $0.admits(keys, values) }
            if pointErrors.count == 1 && resolver.tauConflict && sweepsTau {
                let point = SkippedPoint(label: label, reason: "tau_b > tau_max", values: Array(zip(keys, values)))
                gridSkipped.append(point)
                if selected { skipped.append(point) }
                continue
            }
            guard pointErrors.isEmpty, let config else { failures.append((label, pointErrors)); continue }
            first = first ?? config
            let canonical = config.canonicalYAML()
            var idValues = values.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
            var readableNames = idNames
            if let style = config.training.style, !style.adaptive, keys.contains(where: { $0.hasPrefix("training.style") }) {
                // A swept style shows the window it sets (SPEC 3.4).
                readableNames += ["tau_b", "tau_max"]
                idValues += [String(style.window.tauB), String(style.window.tauMax)]
            }
            let id = SweepGrid.runID(names: readableNames, values: idValues, hash: Hash.short(canonical))
            guard ids.insert(id).inserted else {
                if let reason = collapsedReason[label] {
                    let point = SkippedPoint(label: label, reason: "the same run as \(id) (\(reason))",
                                             values: Array(zip(keys, values)))
                    gridCollapsed.append(point)
                    if selected { collapsed.append(point) }
                }
                continue
            }
            let run = PlannedRun(id: id, swept: Array(zip(keys, values)), config: config, canonical: canonical)
            gridRuns.append(run)
            if selected { runs.append(run) }
        }
        errors += Self.pointErrors(failures, points: points.count, skipped: gridSkipped.count)
        if errors.isEmpty && gridRuns.isEmpty {
            errors.append(ConfigError(root["sweep"]?.location ?? start, "sweep",
                                      "every grid point was skipped (tau_b > tau_max everywhere): nothing to run"))
        } else if errors.isEmpty && runs.isEmpty {
            errors.append(ConfigError(start, "", "the selection " + selections.map { $0.label(keys) }.joined(separator: " ")
                                      + " leaves no valid grid point: nothing to run"))
        }
        guard errors.isEmpty, let first else { return .failure(ConfigErrors(errors)) }
        return .success(ExperimentPlan(name: first.name, description: first.description, file: absolute,
                                       sweptKeys: keys, runs: runs, skipped: skipped, datasets: cache,
                                       gridRuns: gridRuns, gridSkipped: gridSkipped,
                                       selection: selections.map { $0.label(keys) },
                                       collapsed: collapsed, gridCollapsed: gridCollapsed))
    }

    /// What is wrong with a document whose grid cannot be planned (a bad `--set`, `--only` or
    /// sweep): the errors of its first grid point that is more than a `tau_b > tau_max` skip
    /// (none when every point is only that), so that no false error joins the real one.
    static func documentErrors(_ root: ConfigNode, axes: [SweepAxis], file: String, cache: DatasetCatalog) -> [ConfigError] {
        let sweepsAlgorithm = axes.contains { $0.keys.contains("training.algorithm") }
        for point in SweepGrid.expand(axes).prefix(64) {
            var doc = root
            var errors: [ConfigError] = []
            for a in point.assignments {
                switch SweepGrid.apply(a.path, keyAt: a.keyAt, value: a.value, to: doc) {
                case .success(let d): doc = d
                case .failure(let e): errors.append(e)
                }
            }
            if sweepsAlgorithm {
                for key in keysNotTaken(by: algorithmName(doc)) { doc = removing(key, from: doc) ?? doc }
            }
            var resolver = ConfigResolver(file: file, cache: cache)
            if errors.isEmpty { _ = resolver.resolve(doc) }
            errors += resolver.errors
            if errors.count == 1 && resolver.tauConflict { continue }
            return errors
        }
        return []
    }

    /// The errors of a grid's invalid points (issue 29, bug 11). An error at every point is the
    /// file's, said once; one at some points only names them (`at grid point units=256,seed=1`,
    /// up to 4, then how many more) and says how many of the grid's points are valid, which
    /// `--only` can select.
    static func pointErrors(_ failures: [(label: String, errors: [ConfigError])], points: Int, skipped: Int) -> [ConfigError] {
        var order: [ConfigError] = []
        var labels: [ConfigError: [String]] = [:]
        for f in failures {
            for e in Set(f.errors) {
                if labels[e] == nil { order.append(e) }
                labels[e, default: []].append(f.label)
            }
        }
        let valid = points - failures.count - skipped
        return order.map { e in
            let at = labels[e] ?? []
            guard at.count < points, !at.isEmpty else { return e }
            var e = e
            let shown = at.prefix(4).joined(separator: "; ") + (at.count > 4 ? " and \(at.count - 4) more" : "")
            let others = valid == 0 ? "no point of the grid (\(points)) is valid"
                : "the other \(valid) point\(valid == 1 ? "" : "s") of the grid (\(points)) \(valid == 1 ? "is" : "are") valid (--only selects them)"
            e.message += " (at grid point\(at.count == 1 ? "" : "s") \(shown); \(others))"
            return e
        }
    }

    /// The algorithm a grid point's document names in `training.algorithm` (bptt when none, or
    /// when the name is not one: the resolver reports that).
    static func algorithmName(_ doc: ConfigNode) -> AlgorithmName {
        doc["training"]?["algorithm"]?.text.flatMap(AlgorithmName.init(rawValue:)) ?? .bptt
    }

    /// The keys that belong to other algorithms than `algorithm` (SPEC 3.3): `training.tau_max`
    /// (bptt's) and `training.rflo_decay` (rflo's). A per-algorithm key to come is one line here.
    static func keysNotTaken(by algorithm: AlgorithmName) -> [String] {
        let owners: [(key: String, owner: (AlgorithmName) -> Bool)] = [
            ("training.tau_max", { $0 == .bptt }),
            ("training.truncation", { $0 == .bptt }),
            ("training.style", { $0 == .bptt }),
            ("training.rflo_decay", { $0 == .rflo }),
            ("training.rflo_feedback", { $0 == .rflo }),
        ]
        return owners.filter { !$0.owner(algorithm) }.map(\.key)
    }

    /// `doc` without the `training.KEY` of `key`; nil when it has none.
    static func removing(_ key: String, from doc: ConfigNode) -> ConfigNode? {
        let name = String(key.dropFirst("training.".count))
        if let dot = name.firstIndex(of: ".") {  // a key inside a mapping of training (`truncation.delta`)
            let outer = String(name[..<dot]), inner = String(name[name.index(after: dot)...])
            guard case .mapping(var top, let at) = doc, let t = top.firstIndex(where: { $0.key == "training" }),
                  case .mapping(var entries, let trainingAt) = top[t].value, let o = entries.firstIndex(where: { $0.key == outer }),
                  case .mapping(let inside, let insideAt) = entries[o].value, inside.contains(where: { $0.key == inner })
            else { return nil }
            let kept = inside.filter { $0.key != inner }
            if kept.isEmpty { entries.remove(at: o) } else { entries[o].value = .mapping(kept, at: insideAt) }
            top[t].value = .mapping(entries, at: trainingAt)
            return .mapping(top, at: at)
        }
        guard case .mapping(var top, let at) = doc, let t = top.firstIndex(where: { $0.key == "training" }),
              case .mapping(let entries, let trainingAt) = top[t].value, entries.contains(where: { $0.key == name })
        else { return nil }
        top[t].value = .mapping(entries.filter { $0.key != name }, at: trainingAt)
        return .mapping(top, at: at)
    }

    /// Two values of a swept key as written are the same point when their text is, or when both
    /// read as the same number (`0.01`, `1e-2`).
    static func sameValue(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        guard let x = Double(a), let y = Double(b) else { return false }
        return x == y
    }

    /// The values (as written) of every swept key of `axes`.
    static func sweptValues(_ axes: [SweepAxis]) -> [(key: String, values: [String])] {
        axes.flatMap { axis in axis.keys.enumerated().map { k, key in (key, axis.values.map { $0[k].flowText }) } }
    }

    /// Reads one `--only KEY=VALUE[,VALUE]`: KEY a swept key (dotted path or its short name in run
    /// ids), every VALUE one of its values.
    static func selection(only argument: String, axes: [SweepAxis]) -> Result<GridSelection, ConfigError> {
        let at = SourceLocation(file: "--only \(argument)", line: 1, column: 1)
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else {
            return .failure(ConfigError(at, "", "expected KEY=VALUE[,VALUE], e.g. --only tau_max=8,12"))
        }
        let name = String(argument[..<eq]).trimmingCharacters(in: .whitespaces)
        let swept = sweptValues(axes)
        let keys = swept.map(\.key)
        guard !keys.isEmpty else { return .failure(ConfigError(at, name, "the file sweeps nothing: there is no grid to select from")) }
        let short = SweepGrid.shortNames(keys)
        let index = keys.firstIndex(of: name) ?? short.firstIndex(of: name)
            ?? keys.firstIndex { $0.hasSuffix("." + name) }
        guard let index else {
            let candidates = Array(Set(keys + short)).sorted()
            if let s = Suggestion.closest(to: name, in: candidates) {
                return .failure(ConfigError(at, name, "not a swept key; did you mean \(s)?"))
            }
            return .failure(ConfigError(at, name, "not a swept key (swept: \(keys.joined(separator: ", ")))"))
        }
        let texts = argument[argument.index(after: eq)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let column = argument.distance(from: argument.startIndex, to: eq) + 2
        let valueAt = SourceLocation(file: at.file, line: 1, column: column)
        guard !texts.isEmpty, !texts.contains(where: \.isEmpty) else {
            return .failure(ConfigError(valueAt, keys[index], "expected one or more values separated by commas"))
        }
        let values = swept[index].values
        for t in texts where !values.contains(where: { sameValue($0, t) }) {
            return .failure(ConfigError(valueAt, keys[index], "\(t) is not one of the grid's values (\(values.joined(separator: ", ")))"))
        }
        return .success(GridSelection(key: keys[index], texts: texts))
    }

    enum OverrideEffect {
        /// The document with the override written into it.
        case document(ConfigNode)
        /// A swept key set to values its list already has: those grid points are selected.
        case selection(GridSelection)
        /// A swept key's list given new values: they join the file's list (the grid keeps every
        /// finished run in the summaries) and only they are selected.
        case widened(ConfigNode, GridSelection)
    }

    /// Applies one `--set PATH=VALUE` (the value is read as YAML: `0.01`, `full`, `[1, 2]`).
    /// `sweep.KEY=[…]` on a swept KEY selects those points: values the list lacks are appended to
    /// it where it stands (the run ids keep the file's key order, and the summaries keep every
    /// point of the file); on another KEY it adds a list. A swept KEY=VALUE selects that value's
    /// points, and is an error when the list does not have it (never silently ignored).
    static func override(_ argument: String, root: ConfigNode) -> Result<OverrideEffect, ConfigError> {
        let label = "--set \(argument)"
        let at = SourceLocation(file: label, line: 1, column: 1)
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else {
            return .failure(ConfigError(at, "", "expected PATH=VALUE, e.g. --set training.tau_max=20"))
        }
        let path = String(argument[..<eq])
        let valueText = String(argument[argument.index(after: eq)...])
        let value: ConfigNode
        do {
            let doc = try ConfigNode.parse(yaml: "v: \(valueText)\n", file: label)
            guard let v = doc["v"] else { throw ConfigErrors([]) }
            value = Self.relocate(v, to: SourceLocation(file: label, line: 1, column: path.count + 2))
        } catch {
            return .failure(ConfigError(at, path, "cannot read the value '\(valueText)' as YAML"))
        }
        let swept = sweptValues(SweepGrid.axes(root["sweep"]).0)
        if path.hasPrefix("sweep.") {
            let key = String(path.dropFirst("sweep.".count))
            if let existing = swept.first(where: { $0.key == key })?.values, case .sequence(let items, _) = value, !items.isEmpty,
               items.allSatisfy({ item in existing.contains { sameValue($0, item.flowText) } }) {
                return .success(.selection(GridSelection(key: key, texts: items.map(\.flowText))))
            }
            var entries: [ConfigNode.Entry] = []
            var sweepAt = at
            if case .mapping(let e, let a)? = root["sweep"] { entries = e; sweepAt = a }
            if let i = entries.firstIndex(where: { $0.key == key }) {
                // In place (the key order is the file's), the file's values kept, the new ones after them.
                if case .sequence(let old, let listAt) = entries[i].value, case .sequence(let items, _) = value, !items.isEmpty,
                   items.allSatisfy({ if case .scalar = $0 { return true } else { return false } }) {
                    let added = items.filter { item in !old.contains { sameValue($0.flowText, item.flowText) } }
                    entries[i].value = .sequence(old + added, at: listAt)
                    let selection = GridSelection(key: key, texts: items.map(\.flowText))
                    return SweepGrid.apply("sweep", keyAt: at, value: .mapping(entries, at: sweepAt), to: root).map { .widened($0, selection) }
                }
                entries[i] = ConfigNode.Entry(key: key, keyAt: at, value: value)
            } else {
                entries.append(ConfigNode.Entry(key: key, keyAt: at, value: value))
            }
            return SweepGrid.apply("sweep", keyAt: at, value: .mapping(entries, at: sweepAt), to: root).map { .document($0) }
        }
        if let existing = swept.first(where: { $0.key == path })?.values {
            if case .scalar = value, existing.contains(where: { sameValue($0, value.flowText) }) {
                return .success(.selection(GridSelection(key: path, texts: [value.flowText])))
            }
            return .failure(ConfigError(at, path, "\(path) is swept (\(existing.joined(separator: ", "))) and \(valueText) is not one of its values: "
                                        + "pick one of them, or sweep others with --set 'sweep.\(path)=[\(valueText)]'"))
        }
        return SweepGrid.apply(path, keyAt: at, value: value, to: root).map { .document($0) }
    }

    static func relocate(_ node: ConfigNode, to at: SourceLocation) -> ConfigNode {
        switch node {
        case .scalar(let s, let q, _): return .scalar(s, quoted: q, at: at)
        case .sequence(let items, _): return .sequence(items.map { relocate($0, to: at) }, at: at)
        case .mapping(let entries, _):
            return .mapping(entries.map { ConfigNode.Entry(key: $0.key, keyAt: at, value: relocate($0.value, to: at)) }, at: at)
        }
    }
}
