import Foundation
import Yams

/// An experiment document as a tree that keeps every node's location, so that each error can name
/// its file, line and column (from Yams' node marks). Values are kept as written (`full`, `0.001`),
/// which is also how swept values appear in run ids and summaries.
public indirect enum ConfigNode: Sendable, Equatable {
    case scalar(String, quoted: Bool, at: SourceLocation)
    case mapping([Entry], at: SourceLocation)
    case sequence([ConfigNode], at: SourceLocation)

    public struct Entry: Sendable, Equatable {
        public var key: String
        public var keyAt: SourceLocation
        public var value: ConfigNode
    }

    public var location: SourceLocation {
        switch self {
        case .scalar(_, _, let at), .mapping(_, let at), .sequence(_, let at): return at
        }
    }

    /// The value of `key` in a mapping.
    public subscript(key: String) -> ConfigNode? {
        guard case .mapping(let entries, _) = self else { return nil }
        return entries.last { $0.key == key }?.value
    }

    /// The scalar text, if this is a scalar.
    public var text: String? {
        if case .scalar(let s, _, _) = self { return s }
        return nil
    }

    /// A short word for error messages: "a list", "a mapping", "'abc'".
    var kindDescription: String {
        switch self {
        case .scalar(let s, _, _): return s.isEmpty ? "an empty value" : "'\(s)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// Flow-style YAML text of this node (for `--set` values and canonical output of lists).
    var flowText: String {
        switch self {
        case .scalar(let s, let quoted, _): return quoted ? YAMLText.quote(s) : s
        case .sequence(let items, _): return "[" + items.map(\.flowText).joined(separator: ", ") + "]"
        case .mapping(let entries, _):
            return "{" + entries.map { "\($0.key): \($0.value.flowText)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Limits that keep hostile documents (alias bombs, deep nesting) bounded in time and memory.
enum DocumentLimits {
    static let maxNodes = 100_000
    static let maxDepth = 64
    static let maxBytes = 4 << 20
}

extension ConfigNode {
    /// Parses YAML text; `file` names it in errors. The root must be a mapping.
    public static func parse(yaml: String, file: String) throws(ConfigErrors) -> ConfigNode {
        guard yaml.utf8.count <= DocumentLimits.maxBytes else {
            throw ConfigErrors([ConfigError(SourceLocation(file: file, line: 1, column: 1), "",
                                            "the file is larger than \(DocumentLimits.maxBytes >> 20) MB")])
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigErrors([Self.located(error, file: file)])
        } catch {
            throw ConfigErrors([ConfigError(SourceLocation(file: file, line: 1, column: 1), "", "cannot parse YAML: \(error)")])
        }
        guard let node else {
            throw ConfigErrors([ConfigError(SourceLocation(file: file, line: 1, column: 1), "", "the file is empty")])
        }
        var budget = DocumentLimits.maxNodes
        let tree = try convert(node, file: file, depth: 0, budget: &budget)
        guard case .mapping = tree else {
            throw ConfigErrors([ConfigError(tree.location, "", "the document must be a mapping of keys (name:, dataset:, model:, training:), not \(tree.kindDescription)")])
        }
        return tree
    }

    static func located(_ error: YamlError, file: String) -> ConfigError {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            if problem.contains("Maximum nesting level") {
                return ConfigError(at(mark), "", "the document is nested too deeply (more than \(DocumentLimits.maxDepth) levels are refused)")
            }
            let ctx = context.map { "\($0.text) " } ?? ""
            return ConfigError(at(mark), "", "YAML syntax error: \(ctx)\(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return ConfigError(at(context.mark), "", "duplicate key\(duplicates.count > 1 ? "s" : "") \(duplicates.joined(separator: ", ")) in a mapping")
        case let .reader(problem, offset, _, yaml):
            var line = 1, column = 1
            if let offset {
                for (i, ch) in yaml.utf8.enumerated() where i < offset {
                    if ch == 0x0A { line += 1; column = 1 } else { column += 1 }
                }
            }
            return ConfigError(SourceLocation(file: file, line: line, column: column), "", "cannot read the file: \(problem)")
        default:
            return ConfigError(SourceLocation(file: file, line: 1, column: 1), "", "cannot parse YAML: \(error)")
        }
    }

    private static func convert(_ node: Node, file: String, depth: Int, budget: inout Int) throws(ConfigErrors) -> ConfigNode {
        let at = SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        budget -= 1
        guard budget >= 0 else {
            throw ConfigErrors([ConfigError(SourceLocation(file: file, line: 1, column: 1), "", "the document expands to more than \(DocumentLimits.maxNodes) values (aliases?)")])
        }
        guard depth < DocumentLimits.maxDepth else {
            throw ConfigErrors([ConfigError(at, "", "the document is nested more than \(DocumentLimits.maxDepth) levels deep")])
        }
        switch node {
        case .scalar(let s):
            return .scalar(s.string, quoted: s.style == .singleQuoted || s.style == .doubleQuoted, at: at)
        case .mapping(let m):
            var entries: [Entry] = []
            for (k, v) in m {
                let keyAt = SourceLocation(file: file, line: k.mark?.line ?? at.line, column: k.mark?.column ?? at.column)
                guard case .scalar(let ks) = k else {
                    throw ConfigErrors([ConfigError(keyAt, "", "keys must be plain words, not a list or mapping")])
                }
                if entries.contains(where: { $0.key == ks.string }) {
                    throw ConfigErrors([ConfigError(keyAt, ks.string, "duplicate key")])
                }
                entries.append(Entry(key: ks.string, keyAt: keyAt,
                                     value: try convert(v, file: file, depth: depth + 1, budget: &budget)))
            }
            return .mapping(entries, at: at)
        case .sequence(let seq):
            var items: [ConfigNode] = []
            for item in seq { items.append(try convert(item, file: file, depth: depth + 1, budget: &budget)) }
            return .sequence(items, at: at)
        case .alias(let alias):
            throw ConfigErrors([ConfigError(at, "", "unresolved alias *\(alias.anchor.rawValue)")])
        }
    }
}

/// Small helpers for writing YAML text by hand (canonical configs).
enum YAMLText {
    /// Quotes a string when plain YAML would read it as something else.
    static func quote(_ s: String) -> String {
        let plainSafe = !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || "-_./".contains($0) }
            && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(s.lowercased())
            && Double(s) == nil
        if plainSafe { return s }
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 { out += String(format: "\\x%02X", ch.value) } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "\""
    }
}
