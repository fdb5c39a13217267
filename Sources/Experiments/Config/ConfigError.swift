/// A place in an experiment file (1-based line and column), or on the command line.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`; just `file` for a place that has no lines (line 0: a command-line
    /// option, `--metric foo`).
    public var description: String { line == 0 ? file : "\(file):\(line):\(column)" }

    /// A command-line option and its value as the place of an error (`--metric foo: …`).
    public static func option(_ option: String, _ value: String) -> SourceLocation {
        SourceLocation(file: "\(option) \(value)", line: 0, column: 0)
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// One problem with an experiment file: where, which key, what was expected, and a suggestion.
/// Rendering is a separate step (`description`): `file:line:column: key.path: message`.
public struct ConfigError: Error, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var location: SourceLocation
    /// Dotted path of the offending key (`training.tau_max`), or empty.
    public var keyPath: String
    public var message: String

    public init(_ location: SourceLocation, _ keyPath: String, _ message: String) {
        self.location = location
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }

    public static func < (a: ConfigError, b: ConfigError) -> Bool {
        (a.location, a.keyPath, a.message) < (b.location, b.keyPath, b.message)
    }
}

/// Every problem found in one or more files, sorted and de-duplicated.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]
    public init(_ errors: [ConfigError]) { self.errors = Array(Set(errors)).sorted() }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// "Did you mean" suggestions by edit distance, as argument-parser does for options.
enum Suggestion {
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// The closest candidate within a small edit distance, if any.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let floor = max(2, min(4, word.count / 3))
        return best.1 <= floor ? best.0 : nil
    }

    /// `unknown key; did you mean tau_max?` or `unknown key (expected one of: a, b)`.
    static func unknownKey(_ key: String, candidates: [String]) -> String {
        if let s = closest(to: key, in: candidates) { return "unknown key; did you mean \(s)?" }
        return "unknown key (expected one of: \(candidates.joined(separator: ", ")))"
    }

    static func unknownValue(_ value: String, what: String, candidates: [String]) -> String {
        if let s = closest(to: value, in: candidates) { return "unknown \(what) '\(value)'; did you mean \(s)?" }
        return "unknown \(what) '\(value)' (expected one of: \(candidates.joined(separator: ", ")))"
    }
}
