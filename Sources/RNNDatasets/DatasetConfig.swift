/// The dataset kinds of SPEC section 4.
public enum DatasetKind: String, Sendable, Codable, CaseIterable {
    case countOnes = "count-ones"
    case binaryAddition = "binary-addition"
    case adding
    case copy
    case sine
    case reber
    case text
    case csv
    case random

    /// Keys a `dataset:` block of this kind accepts (besides `kind`).
    public var keys: [String] {
        let common = ["train", "validation"]
        switch self {
        case .countOnes: return common + ["length"]
        case .binaryAddition: return common + ["bits"]
        case .adding: return common + ["length"]
        case .copy: return common + ["symbols", "length", "delay"]
        case .sine: return common + ["waves", "noise"]
        case .reber: return common + ["embedded"]
        case .text: return common + ["path"]
        case .csv: return common + ["path", "sequence", "inputs", "targets", "target_type", "validation_path"]
        case .random: return common + ["inputs", "classes"]
        }
    }

    /// Whether the kind is a stream (SPEC section 4).
    public var layout: DatasetLayout {
        switch self {
        case .sine, .text, .random: return .stream
        default: return .sequences
        }
    }
}

/// Targets of a CSV dataset.
public enum TargetType: String, Sendable, Codable, CaseIterable {
    case real, `class`, binary
}

/// A dataset description, as the experiment file gives it (defaults are filled by `resolved()`).
public struct DatasetConfig: Sendable, Equatable, Codable {
    public var kind: DatasetKind
    /// Training size: sequences, or steps for a stream.
    public var train: Int?
    /// Validation size: sequences, or steps for a stream.
    public var validation: Int?
    public var length: Int?
    public var bits: Int?
    public var symbols: Int?
    public var delay: Int?
    public var waves: Int?
    public var noise: Double?
    public var embedded: Bool?
    public var inputs: Int?
    public var classes: Int?
    /// Absolute path of a data file (text, csv).
    public var path: String?
    /// csv: the column grouping rows into sequences.
    public var sequence: String?
    public var inputColumns: [String]?
    public var targetColumns: [String]?
    public var targetType: TargetType?
    public var validationPath: String?

    public init(kind: DatasetKind) { self.kind = kind }

    /// The configuration with every default of its kind filled in.
    public func resolved() -> DatasetConfig {
        var c = self
        switch kind {
        case .countOnes:
            c.length = c.length ?? 10; c.train = c.train ?? 1000; c.validation = c.validation ?? 200
        case .binaryAddition:
            c.bits = c.bits ?? 8; c.train = c.train ?? 2000; c.validation = c.validation ?? 500
        case .adding:
            c.length = c.length ?? 50; c.train = c.train ?? 2000; c.validation = c.validation ?? 500
        case .copy:
            c.symbols = c.symbols ?? 8; c.length = c.length ?? 5; c.delay = c.delay ?? 10
            c.train = c.train ?? 2000; c.validation = c.validation ?? 500
        case .sine:
            c.waves = c.waves ?? 3; c.noise = c.noise ?? 0.05
            c.train = c.train ?? 20000; c.validation = c.validation ?? 2000
        case .reber:
            c.embedded = c.embedded ?? true; c.train = c.train ?? 2000; c.validation = c.validation ?? 500
        case .random:
            c.inputs = c.inputs ?? 16; c.classes = c.classes ?? 16
            c.train = c.train ?? 10000; c.validation = c.validation ?? 1000
        case .text:
            break  // train / validation default to the file's size: 90% / 10%
        case .csv:
            c.targetType = c.targetType ?? .real
            c.validation = c.validation ?? 0
        }
        return c
    }
}
