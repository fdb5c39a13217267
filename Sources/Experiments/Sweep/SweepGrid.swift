/// One dimension of a grid: a single swept key, or a `zip:` group of keys advanced together.
public struct SweepAxis: Sendable, Equatable {
    /// Dotted paths of the keys on this axis.
    public var keys: [String]
    public var keyLocations: [SourceLocation]
    /// values[i][k]: the value of key k at position i.
    public var values: [[ConfigNode]]
}

/// The settings of one grid point: (dotted path, value) pairs, values as written in the sweep.
public struct GridPoint: Sendable, Equatable {
    public var assignments: [(path: String, keyAt: SourceLocation, value: ConfigNode)]

    public static func == (a: GridPoint, b: GridPoint) -> Bool {
        a.assignments.map(\.path) == b.assignments.map(\.path) && a.assignments.map(\.value) == b.assignments.map(\.value)
    }
}

/// Sweep expansion, pure and without I/O (Hydra's sweeper/launcher split): `axes` reads a
/// `sweep:` block, `expand` forms the cartesian product (the last axis varies fastest), and
/// `apply` writes a point's values into a copy of the document.
///
/// ```yaml
/// sweep:
///   training.tau_max: [5, 10, 20]     # an axis
///   zip:                              # one axis whose lists advance together
///     training.optimizer.lr: [0.1, 0.01]
///     training.batch: [16, 64]
/// ```
/// `zip:` may also be a list of such groups.
public enum SweepGrid {
    public static let maxPoints = 100_000

    /// The one rule for seeds: a swept key whose last part ends in `seed` (`training.seed`,
    /// `dataset.seed`, `model.init_seed`) repeats a setting rather than making a new one. The
    /// report averages over such keys, and a "setting" is the swept values of every other key.
    public static func isSeedKey(_ key: String) -> Bool { key.hasSuffix("seed") }

    public static func axes(_ sweep: ConfigNode?) -> ([SweepAxis], [ConfigError]) {
        guard let sweep else { return ([], []) }
        guard case .mapping(let entries, _) = sweep else {
            return ([], [ConfigError(sweep.location, "sweep", "expected a mapping of dotted paths to lists, found \(sweep.kindDescription)")])
        }
        var axes: [SweepAxis] = [], errors: [ConfigError] = []
        func list(_ e: ConfigNode.Entry, _ prefix: String) -> [ConfigNode]? {
            guard case .sequence(let items, _) = e.value else {
                errors.append(ConfigError(e.value.location, "\(prefix)\(e.key)", "expected a list of values like [1, 2, 3], found \(e.value.kindDescription)"))
                return nil
            }
            if items.isEmpty { errors.append(ConfigError(e.value.location, "\(prefix)\(e.key)", "the list is empty")) }
            for item in items where { if case .scalar = item { return false } else { return true } }() {
                errors.append(ConfigError(item.location, "\(prefix)\(e.key)", "swept values must be single values, found \(item.kindDescription)"))
            }
            return items.isEmpty ? nil : items
        }
        func zipGroup(_ node: ConfigNode) {
            guard case .mapping(let group, _) = node else {
                errors.append(ConfigError(node.location, "sweep.zip", "expected a mapping of dotted paths to lists (or a list of such mappings)"))
                return
            }
            var lists: [[ConfigNode]] = []
            for e in group { if let l = list(e, "sweep.zip.") { lists.append(l) } }
            guard lists.count == group.count, let n = lists.first?.count else { return }
            if let bad = lists.firstIndex(where: { $0.count != n }) {
                errors.append(ConfigError(group[bad].value.location, "sweep.zip.\(group[bad].key)",
                                          "zipped lists must have the same length: \(group[0].key) has \(n) values, \(group[bad].key) has \(lists[bad].count)"))
                return
            }
            axes.append(SweepAxis(keys: group.map(\.key), keyLocations: group.map(\.keyAt),
                                  values: (0..<n).map { i in lists.map { $0[i] } }))
        }
        for e in entries {
            if e.key == "zip" {
                if case .sequence(let groups, _) = e.value { groups.forEach(zipGroup) } else { zipGroup(e.value) }
                continue
            }
            if let l = list(e, "sweep.") {
                axes.append(SweepAxis(keys: [e.key], keyLocations: [e.keyAt], values: l.map { [$0] }))
            }
        }
        var seen: [String: SourceLocation] = [:]
        for axis in axes {
            for (k, at) in zip(axis.keys, axis.keyLocations) {
                if seen[k] != nil { errors.append(ConfigError(at, "sweep.\(k)", "swept twice")) }
                seen[k] = at
                if k.hasPrefix("sweep") || k.isEmpty {
                    errors.append(ConfigError(at, "sweep.\(k)", "cannot sweep the sweep block itself"))
                }
            }
        }
        let size = axes.reduce(1.0) { $0 * Double($1.values.count) }
        if size > Double(maxPoints) {
            errors.append(ConfigError(sweep.location, "sweep", "the grid has \(Int(min(size, 1e18))) points (more than \(maxPoints))"))
        }
        return (axes, errors)
    }

    /// The cartesian product of the axes; the last axis varies fastest.
    public static func expand(_ axes: [SweepAxis]) -> [GridPoint] {
        var points = [GridPoint(assignments: [])]
        for axis in axes {
            var next: [GridPoint] = []
            next.reserveCapacity(points.count * axis.values.count)
            for p in points {
                for values in axis.values {
                    var q = p
                    for (k, (key, at)) in zip(axis.keys, axis.keyLocations).enumerated() {
                        q.assignments.append((key, at, values[k]))
                    }
                    next.append(q)
                }
            }
            points = next
        }
        return points
    }

    /// Writes `value` at the dotted `path` of `root` (list indices are numbers), creating missing
    /// mapping keys so that the validator can report unknown ones with a suggestion.
    public static func apply(_ path: String, keyAt: SourceLocation, value: ConfigNode, to root: ConfigNode) -> Result<ConfigNode, ConfigError> {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.contains(where: \.isEmpty) {
            return .failure(ConfigError(keyAt, path, "not a valid dotted path"))
        }
        return set(parts[...], done: [], in: root, keyAt: keyAt, value: value)
    }

    private static func set(_ rest: ArraySlice<String>, done: [String], in node: ConfigNode, keyAt: SourceLocation,
                            value: ConfigNode) -> Result<ConfigNode, ConfigError> {
        guard let head = rest.first else { return .success(value) }
        let here = (done + [head]).joined(separator: ".")
        switch node {
        case .mapping(var entries, let at):
            if let i = entries.firstIndex(where: { $0.key == head }) {
                switch set(rest.dropFirst(), done: done + [head], in: entries[i].value, keyAt: keyAt, value: value) {
                case .success(let v): entries[i].value = v
                case .failure(let e): return .failure(e)
                }
            } else {
                let fresh: ConfigNode = rest.count == 1 ? value : .mapping([], at: keyAt)
                switch set(rest.dropFirst(), done: done + [head], in: fresh, keyAt: keyAt, value: value) {
                case .success(let v): entries.append(ConfigNode.Entry(key: head, keyAt: keyAt, value: v))
                case .failure(let e): return .failure(e)
                }
            }
            return .success(.mapping(entries, at: at))
        case .sequence(var items, let at):
            guard let i = Int(head) else {
                return .failure(ConfigError(keyAt, here, "\(done.joined(separator: ".")) is a list: expected an index (0, 1, ...), found '\(head)'"))
            }
            guard i >= 0 && i < items.count else {
                return .failure(ConfigError(keyAt, here, "index \(i) is out of range: \(done.joined(separator: ".")) has \(items.count) item\(items.count == 1 ? "" : "s")"))
            }
            switch set(rest.dropFirst(), done: done + [head], in: items[i], keyAt: keyAt, value: value) {
            case .success(let v): items[i] = v
            case .failure(let e): return .failure(e)
            }
            return .success(.sequence(items, at: at))
        case .scalar:
            return .failure(ConfigError(keyAt, here, "\(done.joined(separator: ".")) is a single value, not a mapping or list"))
        }
    }

    /// Short, unique names of swept keys: the shortest dotted suffix that no other key shares
    /// (`tau_max`, `seed`, `layers.0.units`).
    public static func shortNames(_ keys: [String]) -> [String] {
        keys.map { key in
            let parts = key.split(separator: ".")
            for n in 1...max(parts.count, 1) {
                let suffix = parts.suffix(n).joined(separator: ".")
                let clash = keys.contains { $0 != key && ($0 == suffix || $0.hasSuffix("." + suffix)) }
                if !clash { return suffix }
            }
            return key
        }
    }

    /// A readable, deterministic run id: `tau_max=20,tau_b=5,seed=1-3fa9c2`, or `run-3fa9c2`.
    public static func runID(names: [String], values: [String], hash: String) -> String {
        guard !names.isEmpty else { return "run-\(hash)" }
        let body = zip(names, values).map { "\($0)=\(sanitize($1))" }.joined(separator: ",")
        return "\(body)-\(hash)"
    }

    /// Characters of one swept value in a run id (longer values are cut; the hash tells them apart).
    static let runIDValueLength = 40

    static func sanitize(_ s: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
        let cleaned = String(s.map { allowed.contains($0) ? $0 : "_" })
        return String(cleaned.prefix(runIDValueLength))
    }
}
