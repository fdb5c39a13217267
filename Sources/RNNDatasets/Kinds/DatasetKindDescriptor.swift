import RNNCore

/// Everything one dataset kind declares about itself, in one place: its YAML keys (types, bounds,
/// defaults), its layout, its shape and steps per sequence (computed by the same functions its
/// generator uses), the lags at which its targets depend on its inputs, and the generator itself.
///
/// The experiment resolver, the dataset catalog, the canonical YAML and the plan-time checks all
/// read the descriptor, so adding a kind is one file (plus a case in `DatasetKind`, which the
/// compiler then asks to be mapped to the new descriptor) and its test.
public protocol DatasetKindDescriptor {
    static var kind: DatasetKind { get }
    /// Sequences (state reset per sequence) or one stream (SPEC section 4).
    static var layout: DatasetLayout { get }
    /// The keys of the `dataset:` block besides `kind`, in the order messages list them.
    static var keys: [DatasetKey] { get }
    /// The order the canonical YAML writes the keys in (run ids hash it). Default: `keys`' order.
    static var canonicalKeyOrder: [String] { get }
    /// Rules that span keys, checked on the resolved configuration (default: none).
    static func problems(_ config: DatasetConfig) -> [DatasetConfigProblem]
    /// The shape, from the parameters alone; nil when only the data can tell (`text`, `csv`).
    static func shape(_ config: DatasetConfig) -> DatasetShape?
    /// Steps of one sequence (streams: of the training split), for memory estimates and shard costs.
    static func stepsPerSequence(_ config: DatasetConfig) -> StepCount
    /// Values stored per step, for the plan-time size bound (default 2: one input, one target).
    static func valuesPerStep(_ config: DatasetConfig) -> Int
    /// The lags at which targets depend on inputs (SPEC 3.2), when the kind knows them (default nil).
    static func dependencyLags(_ config: DatasetConfig) -> DependencyLags?
    /// Whether the last layer may have more units than the data has classes (default false).
    static func acceptsExtraOutputUnits(_ config: DatasetConfig) -> Bool
    /// Whether the data comes from files (read once and kept by the catalog) rather than the seed.
    static var readsFiles: Bool { get }
    /// Keys that describe the data without changing any run (csv `lags`): left out of the
    /// canonical config, so that adding them keeps every run id (default none).
    static var annotationKeys: [String] { get }
    /// The dataset, a pure function of the configuration and `seed` (or of the files it names).
    static func make(_ config: DatasetConfig, seed: UInt64) throws(DatasetError) -> Dataset
}

extension DatasetKindDescriptor {
    public static var canonicalKeyOrder: [String] { keys.map(\.name) }
    public static func problems(_ config: DatasetConfig) -> [DatasetConfigProblem] { [] }
    public static func valuesPerStep(_ config: DatasetConfig) -> Int { 2 }
    public static func dependencyLags(_ config: DatasetConfig) -> DependencyLags? { nil }
    public static func acceptsExtraOutputUnits(_ config: DatasetConfig) -> Bool { false }
    public static var readsFiles: Bool { false }
    public static var annotationKeys: [String] { [] }

    /// The keys in canonical order.
    public static var canonicalKeys: [DatasetKey] {
        canonicalKeyOrder.compactMap { name in keys.first { $0.name == name } }
    }
}

/// A rule that spans keys, broken: `keys` are the keys involved (the error is placed at the first
/// of them the file writes, else at the `dataset:` block, and named after it).
public struct DatasetConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var keys: [String]
    public var message: String

    public init(_ keys: [String], _ message: String) {
        self.keys = keys
        self.message = message
    }

    public var description: String { "dataset.\(keys.first ?? ""): \(message)" }
}

/// Steps of one sequence: exact when the parameters fix it, an estimate when the data decides.
public enum StepCount: Sendable, Equatable {
    case exact(Int)
    case estimate(Int)

    public var value: Int {
        switch self {
        case .exact(let n), .estimate(let n): return n
        }
    }
}
