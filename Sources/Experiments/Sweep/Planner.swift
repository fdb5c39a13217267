import Foundation
import RNNDatasets

/// One run of a grid: its id, the swept values that picked it, and its resolved configuration.
public struct PlannedRun: Sendable {
    public let id: String
    /// (dotted path, value as written in the YAML) for every swept key.
    public let swept: [(key: String, text: String)]
    public let config: ExperimentConfig
    /// The canonical YAML the id's hash was computed from (written as `config.yaml`).
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
    public let runs: [PlannedRun]
    public let skipped: [SkippedPoint]
    public let datasets: DatasetCatalog
}

/// Reads experiment files, applies `--set` overrides, expands every grid and validates every
/// point before anything runs. Besides the experiment files it reads the data files they name
/// (csv and text datasets, through the catalog; checksummed for the canonical YAML) and decodes
/// `model.init_from` to check it against the model; it writes nothing.
public enum Planner {
    public static func plan(files: [String], overrides: [String] = [], cache: DatasetCatalog = DatasetCatalog())
        -> Result<[ExperimentPlan], ConfigErrors>
    {
        var plans: [ExperimentPlan] = [], errors: [ConfigError] = []
        var owners: [String: String] = [:]
        for path in files {
            switch planFile(path, overrides: overrides, cache: cache) {
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

    static func planFile(_ path: String, overrides: [String], cache: DatasetCatalog) -> Result<ExperimentPlan, ConfigErrors> {
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
        for o in overrides {
            switch override(o, root: root) {
            case .success(let r): root = r
            case .failure(let e): errors.append(e)
            }
        }
        let (axes, sweepErrors) = SweepGrid.axes(root["sweep"])
        errors += sweepErrors
        guard errors.isEmpty else {
            // Still report what is wrong with the document itself.
            var resolver = ConfigResolver(file: absolute, cache: cache)
            _ = resolver.resolve(root)
            return .failure(ConfigErrors(errors + resolver.errors))
        }
        let keys = axes.flatMap(\.keys)
        let names = SweepGrid.shortNames(keys)
        let sweepsTau = keys.contains { $0 == "training.tau_b" || $0 == "training.tau_max" }
        var runs: [PlannedRun] = [], skipped: [SkippedPoint] = []
        var ids = Set<String>()
        var first: ExperimentConfig? = nil
        for point in SweepGrid.expand(axes) {
            var doc = root
            var pointErrors: [ConfigError] = []
            for a in point.assignments {
                switch SweepGrid.apply(a.path, keyAt: a.keyAt, value: a.value, to: doc) {
                case .success(let d): doc = d
                case .failure(let e): pointErrors.append(e)
                }
            }
            let values = point.assignments.map { $0.value.flowText }
            let label = zip(names, values).map { "\($0)=\($1)" }.joined(separator: ",")
            var resolver = ConfigResolver(file: absolute, cache: cache)
            let config = pointErrors.isEmpty ? resolver.resolve(doc) : nil
            pointErrors += resolver.errors
            if pointErrors.count == 1 && resolver.tauConflict && sweepsTau {
                skipped.append(SkippedPoint(label: label, reason: "tau_b > tau_max", values: Array(zip(keys, values))))
                continue
            }
            guard pointErrors.isEmpty, let config else { errors += pointErrors; continue }
            first = first ?? config
            let canonical = config.canonicalYAML()
            let id = SweepGrid.runID(names: names, values: values, hash: Hash.short(canonical))
            guard ids.insert(id).inserted else { continue }
            runs.append(PlannedRun(id: id, swept: Array(zip(keys, values)), config: config, canonical: canonical))
        }
        if errors.isEmpty && runs.isEmpty {
            errors.append(ConfigError(root["sweep"]?.location ?? start, "sweep",
                                      "every grid point was skipped (tau_b > tau_max everywhere): nothing to run"))
        }
        guard errors.isEmpty, let first else { return .failure(ConfigErrors(errors)) }
        return .success(ExperimentPlan(name: first.name, description: first.description, file: absolute,
                                       sweptKeys: keys, runs: runs, skipped: skipped, datasets: cache))
    }

    /// Applies one `--set PATH=VALUE` (the value is read as YAML: `0.01`, `full`, `[1, 2]`).
    static func override(_ argument: String, root: ConfigNode) -> Result<ConfigNode, ConfigError> {
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
        if path.hasPrefix("sweep.") {
            let key = String(path.dropFirst("sweep.".count))
            var entries: [ConfigNode.Entry] = []
            var sweepAt = at
            if case .mapping(let e, let a)? = root["sweep"] { entries = e; sweepAt = a }
            entries.removeAll { $0.key == key }
            entries.append(ConfigNode.Entry(key: key, keyAt: at, value: value))
            return SweepGrid.apply("sweep", keyAt: at, value: .mapping(entries, at: sweepAt), to: root)
        }
        return SweepGrid.apply(path, keyAt: at, value: value, to: root)
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
