import Foundation
import RNNCore
import RNNDatasets

/// Typed reads of YAML nodes: every problem becomes a located `ConfigError`, and the read gives nil.
extension ConfigResolver {
    // MARK: Typed accessors

    /// Entries of a mapping, reporting unknown keys (with a suggestion) and non-mappings.
    mutating func entries(_ node: ConfigNode?, _ path: String, allowed: [String]) -> [ConfigNode.Entry]? {
        guard let node else { return nil }
        guard case .mapping(let entries, _) = node else {
            error(node.location, path, "expected a mapping (key: value lines), found \(node.kindDescription)")
            return nil
        }
        for e in entries where !allowed.contains(e.key) {
            error(e.keyAt, join(path, e.key), Suggestion.unknownKey(e.key, candidates: allowed))
        }
        return entries
    }

    func relativeName(_ path: String) -> String { (path as NSString).lastPathComponent }

    func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : "\(a).\(b)" }

    mutating func scalar(_ node: ConfigNode, _ path: String, expected: String) -> String? {
        guard case .scalar(let s, _, _) = node else {
            error(node.location, path, "expected \(expected), found \(node.kindDescription)")
            return nil
        }
        return s
    }

    mutating func int(_ node: ConfigNode?, _ path: String, min lo: Int, max hi: Int = Int(Int32.max)) -> Int? {
        guard let node, let s = scalar(node, path, expected: "an integer") else { return nil }
        let cleaned = s.replacingOccurrences(of: "_", with: "")
        var value = Int(cleaned)
        if value == nil, let d = Double(cleaned), d.isFinite, d == d.rounded(), abs(d) < 9e18 { value = Int(d) }
        guard let v = value else {
            if let d = Double(cleaned), d.isFinite, abs(d) >= 9e18 {
                error(node.location, path, "\(s) is too large (at most \(hi))")
            } else {
                error(node.location, path, "expected an integer, found \(node.kindDescription)")
            }
            return nil
        }
        guard v >= lo else { error(node.location, path, "must be at least \(lo), found \(s)"); return nil }
        guard v <= hi else { error(node.location, path, "\(s) is too large (at most \(hi))"); return nil }
        return v
    }

    /// A real number; `open` excludes the lower bound.
    mutating func double(_ node: ConfigNode?, _ path: String, min lo: Double, open: Bool = false, max hi: Double = .greatestFiniteMagnitude) -> Double? {
        guard let node, let s = scalar(node, path, expected: "a number") else { return nil }
        guard let v = Double(s.replacingOccurrences(of: "_", with: "")), v.isFinite else {
            error(node.location, path, "expected a number, found \(node.kindDescription)")
            return nil
        }
        if open ? !(v > lo) : !(v >= lo) {
            error(node.location, path, open ? "must be greater than \(Self.show(lo)), found \(s)" : "must be at least \(Self.show(lo)), found \(s)")
            return nil
        }
        if v > hi {
            error(node.location, path, "must be at most \(Self.show(hi)), found \(s)")
            return nil
        }
        return v
    }

    static func show(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)" }

    /// A truncation horizon: a number of steps (1 … the sequence bound), or `full` (nil, as is a
    /// missing key); anything else is a located error (and nil).
    mutating func horizon(_ node: ConfigNode?, _ path: String) -> Int? {
        guard let node, node.text != "full" else { return nil }
        let steps = int(node, path, min: 1, max: Bounds.sequenceLength)
        if steps == nil, let t = node.text, Int(t) == nil, Double(t) == nil {
            errors.removeLast()
            error(node.location, path, "expected a positive integer or full, found \(node.kindDescription)")
        }
        return steps
    }

    mutating func bool(_ node: ConfigNode?, _ path: String) -> Bool? {
        guard let node, let s = scalar(node, path, expected: "true or false") else { return nil }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: error(node.location, path, "expected true or false, found \(node.kindDescription)"); return nil
        }
    }

    mutating func string(_ node: ConfigNode?, _ path: String) -> String? {
        guard let node else { return nil }
        return scalar(node, path, expected: "a string")
    }

    mutating func choice<E: RawRepresentable & CaseIterable>(_ node: ConfigNode?, _ path: String, _ what: String,
                                                             _ type: E.Type, exclude: [String] = []) -> E? where E.RawValue == String {
        let names = E.allCases.map(\.rawValue).filter { !exclude.contains($0) }
        return choice(node, path, what, names: names).flatMap(E.init(rawValue:))
    }

    /// One of `names`, with a did-you-mean suggestion otherwise.
    mutating func choice(_ node: ConfigNode?, _ path: String, _ what: String, names: [String]) -> String? {
        guard let node, let s = scalar(node, path, expected: "a \(what) name") else { return nil }
        if names.contains(s) { return s }
        error(node.location, path, Suggestion.unknownValue(s, what: what, candidates: names))
        return nil
    }

    mutating func stringList(_ node: ConfigNode?, _ path: String) -> [String]? {
        guard let node else { return nil }
        guard case .sequence(let items, _) = node else {
            if case .scalar(let s, _, _) = node { return [s] }
            error(node.location, path, "expected a list of column names, found \(node.kindDescription)")
            return nil
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = scalar(item, "\(path).\(i)", expected: "a column name") else { return nil }
            out.append(s)
        }
        if out.isEmpty { error(node.location, path, "the list is empty") }
        return out
    }

    /// A non-empty list of numbers, each read by `item` (a single number reads as a list of one).
    mutating func numberList<T>(_ node: ConfigNode?, _ path: String, item: (inout Self, ConfigNode, String) -> T?) -> [T]? {
        guard let node else { return nil }
        guard case .sequence(let items, _) = node else {
            if case .scalar = node { return item(&self, node, path).map { [$0] } }
            error(node.location, path, "expected a list of numbers like [1, 2], found \(node.kindDescription)")
            return nil
        }
        guard !items.isEmpty else { error(node.location, path, "the list is empty"); return nil }
        var out: [T] = []
        for (i, node) in items.enumerated() {
            guard let v = item(&self, node, "\(path).\(i)") else { return nil }
            out.append(v)
        }
        return out
    }

    /// A path relative to the experiment file, which must exist.
    mutating func existingPath(_ node: ConfigNode?, _ path: String) -> String? {
        guard let s = string(node, path), let node else { return nil }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        let resolved = s.hasPrefix("/") ? URL(fileURLWithPath: s) : base.appendingPathComponent(s)
        let absolute = resolved.standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            error(node.location, path, "file not found: \(s) (looked for \(absolute))")
            return nil
        }
        guard !isDirectory.boolValue else {
            error(node.location, path, "\(s) is a folder, not a file")
            return nil
        }
        return absolute
    }
}
