/// The kind of a layer in the stack (SPEC section 2).
public enum LayerKind: String, Sendable, Codable, CaseIterable {
    /// Elman layer: `z^l_n = SW^l · h^{l-1}_n + TW^l · h^l_{n-1} + b^l`.
    case rnn
    /// No recurrence, applied at every step: `z^l_n = SW^l · h^{l-1}_n + b^l`.
    case dense
}

/// One layer of a network: its kind, its input and output sizes and its activation.
public struct LayerSpec: Sendable, Equatable, Codable {
    public var kind: LayerKind
    /// Size of `h^{l-1}` (the dataset's input size for the first layer).
    public var inputs: Int
    /// Size of `h^l`.
    public var units: Int
    public var activation: Activation

    public init(kind: LayerKind, inputs: Int, units: Int, activation: Activation) {
        self.kind = kind
        self.inputs = inputs
        self.units = units
        self.activation = activation
    }

    public var isRecurrent: Bool { kind == .rnn }

    /// Number of scalars in `SW` (units × inputs), `TW` (units × units, rnn only) and `b` (units).
    public var parameterCount: Int {
        units * inputs + (isRecurrent ? units * units : 0) + units
    }
}
