/// Targets of a CSV dataset.
public enum TargetType: String, Sendable, Codable, CaseIterable {
    case real, `class`, binary
}

/// A dataset description, as the experiment file gives it (defaults are filled by `resolved()`).
/// Which fields a kind uses, under which YAML names, is declared by its descriptor's `keys`.
public struct DatasetConfig: Sendable, Hashable, Codable {
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
    /// echo: the lags `L_i` at which the target depends on the input.
    public var lags: [Int]?
    /// echo: the weight `w_i` of each lag.
    public var weights: [Double]?
    /// echo: `P(y = 1)` when every lagged input is 0.
    public var base: Double?

    public init(kind: DatasetKind) { self.kind = kind }

    /// The configuration with every default of its kind filled in (from the descriptor's keys).
    public func resolved() -> DatasetConfig {
        var c = self
        for key in kind.descriptor.keys where key.value(in: c) == nil {
            if let v = key.defaultValue { key.set(v, in: &c) }
        }
        return c
    }

    /// Steps of one sequence (streams: of the training split), for memory estimates and shard costs.
    public var stepsPerSequence: Int { kind.descriptor.stepsPerSequence(resolved()).value }

    /// The lags at which targets depend on inputs (SPEC 3.2), when the kind knows them.
    public var dependencyLags: DependencyLags? { kind.descriptor.dependencyLags(resolved()) }
}
