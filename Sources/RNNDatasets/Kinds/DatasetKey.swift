/// One key of a `dataset:` block, declared by its kind's descriptor: the YAML name, the type and
/// bounds of its value, its default, and the `DatasetConfig` field it fills.
///
/// The experiment resolver validates every key generically from this declaration (with located
/// errors), `DatasetConfig.resolved()` fills the defaults from it, and the canonical YAML writes the
/// values back from it. The same YAML name may mean different things for different kinds: `inputs`
/// is a width for `random` and a list of column names for `csv`.
public struct DatasetKey: Sendable {
    /// What the value must be.
    public enum ValueType: Sendable, Equatable {
        /// An integer within the bounds.
        case integer(ClosedRange<Int>)
        /// A finite real number within the bounds.
        case real(ClosedRange<Double>)
        case boolean
        /// A path relative to the experiment file, which must name an existing file; stored absolute.
        case file
        /// A column name.
        case name
        /// A list of column names (a single name reads as a list of one).
        case names
        /// One of `names`; `what` names the set in messages ("target type").
        case choice(what: String, names: [String])
        /// A non-empty list of integers within the bounds (a single number reads as a list of one).
        case integers(ClosedRange<Int>)
        /// A non-empty list of finite reals within the bounds (a single number reads as a list of one).
        case reals(ClosedRange<Double>)
    }

    /// A validated value. `.text` carries files (absolute paths), names and choices.
    public enum Value: Sendable, Equatable {
        case integer(Int)
        case real(Double)
        case boolean(Bool)
        case text(String)
        case texts([String])
        case integers([Int])
        case reals([Double])
    }

    /// The key as written in the experiment file.
    public let name: String
    public let type: ValueType
    /// The value used when the key is left out (nil: none, the field stays unset).
    public let defaultValue: Value?
    /// For a required key, what to say when it is missing (nil: optional).
    public let whenMissing: String?
    private let read: @Sendable (DatasetConfig) -> Value?
    private let write: @Sendable (inout DatasetConfig, Value) -> Void

    init(_ name: String, _ type: ValueType, default defaultValue: Value?, whenMissing: String? = nil,
         read: @escaping @Sendable (DatasetConfig) -> Value?, write: @escaping @Sendable (inout DatasetConfig, Value) -> Void) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.whenMissing = whenMissing
        self.read = read
        self.write = write
    }

    /// The key's value in `config`, if set.
    public func value(in config: DatasetConfig) -> Value? { read(config) }

    /// Stores `value` (of this key's type) into `config`; a value of another type is ignored.
    public func set(_ value: Value, in config: inout DatasetConfig) { write(&config, value) }
}

// MARK: - Declaring keys

extension DatasetKey {
    static func integer(_ name: String, _ field: WritableKeyPath<DatasetConfig, Int?> & Sendable, in bounds: ClosedRange<Int>,
                        default value: Int? = nil) -> DatasetKey {
        DatasetKey(name, .integer(bounds), default: value.map(Value.integer),
                   read: { c in c[keyPath: field].map(Value.integer) },
                   write: { c, v in if case .integer(let x) = v { c[keyPath: field] = x } })
    }

    static func real(_ name: String, _ field: WritableKeyPath<DatasetConfig, Double?> & Sendable, in bounds: ClosedRange<Double>,
                     default value: Double? = nil) -> DatasetKey {
        DatasetKey(name, .real(bounds), default: value.map(Value.real),
                   read: { c in c[keyPath: field].map(Value.real) },
                   write: { c, v in if case .real(let x) = v { c[keyPath: field] = x } })
    }

    static func boolean(_ name: String, _ field: WritableKeyPath<DatasetConfig, Bool?> & Sendable, default value: Bool? = nil) -> DatasetKey {
        DatasetKey(name, .boolean, default: value.map(Value.boolean),
                   read: { c in c[keyPath: field].map(Value.boolean) },
                   write: { c, v in if case .boolean(let x) = v { c[keyPath: field] = x } })
    }

    static func file(_ name: String, _ field: WritableKeyPath<DatasetConfig, String?> & Sendable, whenMissing: String? = nil) -> DatasetKey {
        DatasetKey(name, .file, default: nil, whenMissing: whenMissing,
                   read: { c in c[keyPath: field].map(Value.text) },
                   write: { c, v in if case .text(let x) = v { c[keyPath: field] = x } })
    }

    static func name(_ name: String, _ field: WritableKeyPath<DatasetConfig, String?> & Sendable, whenMissing: String? = nil) -> DatasetKey {
        DatasetKey(name, .name, default: nil, whenMissing: whenMissing,
                   read: { c in c[keyPath: field].map(Value.text) },
                   write: { c, v in if case .text(let x) = v { c[keyPath: field] = x } })
    }

    static func names(_ name: String, _ field: WritableKeyPath<DatasetConfig, [String]?> & Sendable, whenMissing: String? = nil) -> DatasetKey {
        DatasetKey(name, .names, default: nil, whenMissing: whenMissing,
                   read: { c in c[keyPath: field].map(Value.texts) },
                   write: { c, v in if case .texts(let x) = v { c[keyPath: field] = x } })
    }

    static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ field: WritableKeyPath<DatasetConfig, E?> & Sendable, what: String, default value: E? = nil
    ) -> DatasetKey where E.RawValue == String {
        DatasetKey(name, .choice(what: what, names: E.allCases.map(\.rawValue)), default: value.map { .text($0.rawValue) },
                   read: { c in c[keyPath: field].map { .text($0.rawValue) } },
                   write: { c, v in if case .text(let x) = v, let e = E(rawValue: x) { c[keyPath: field] = e } })
    }

    static func integers(_ name: String, _ field: WritableKeyPath<DatasetConfig, [Int]?> & Sendable, in bounds: ClosedRange<Int>,
                         default value: [Int]? = nil) -> DatasetKey {
        DatasetKey(name, .integers(bounds), default: value.map(Value.integers),
                   read: { c in c[keyPath: field].map(Value.integers) },
                   write: { c, v in if case .integers(let x) = v { c[keyPath: field] = x } })
    }

    static func reals(_ name: String, _ field: WritableKeyPath<DatasetConfig, [Double]?> & Sendable, in bounds: ClosedRange<Double>,
                      default value: [Double]? = nil) -> DatasetKey {
        DatasetKey(name, .reals(bounds), default: value.map(Value.reals),
                   read: { c in c[keyPath: field].map(Value.reals) },
                   write: { c, v in if case .reals(let x) = v { c[keyPath: field] = x } })
    }

    /// `train` and `validation`, every kind's first two keys: sequences, or steps for a stream.
    /// The arguments are the defaults (nil: the kind decides from its data, as `text` does).
    static func sizes(train: Int?, validation: Int?) -> [DatasetKey] {
        [.integer("train", \.train, in: 1...DatasetLimits.splitSize, default: train),
         .integer("validation", \.validation, in: 0...DatasetLimits.splitSize, default: validation)]
    }
}

/// Upper bounds on dataset parameters that keep a typo from allocating the machine away.
public enum DatasetLimits {
    /// The longest sequence (or lag) a generated kind accepts.
    public static let sequenceLength = 1_000_000
    /// The largest `train` or `validation` size: sequences, or steps of a stream.
    public static let splitSize = 100_000_000
    /// The widest input or class count of the `random` kind.
    public static let width = 65_536
}
