/// The kind of a layer in the stack (SPEC section 2). What the engines need of each kind is its
/// definition in `Layers/Kinds/` (`LayerDefinition`), registered in `LayerKind.accept`.
public enum LayerKind: String, Sendable, Codable, CaseIterable {
    /// Elman layer: `z^l_n = SW^l · h^{l-1}_n + TW^l · h^l_{n-1} + b^l`.
    case rnn
    /// No recurrence, applied at every step: `z^l_n = SW^l · h^{l-1}_n + b^l`.
    case dense
    /// PyTorch `nn.LSTM` (one layer), gates in the order i, f, g, o:
    /// `i,f,g,o = split(SW·x + b_s + TW·h_{n-1} + b_t)`, `c_n = σ(f)⊙c_{n-1} + σ(i)⊙tanh(g)`,
    /// `h_n = σ(o)⊙tanh(c_n)`.
    case lstm
    /// PyTorch `nn.GRU` (one layer), gates in the order r, z, n:
    /// `r = σ(SW_r·x + b_sr + TW_r·h + b_tr)`, `z = σ(SW_z·x + b_sz + TW_z·h + b_tz)`,
    /// `n = tanh(SW_n·x + b_sn + r ⊙ (TW_n·h + b_tn))`, `h_n = (1 − z)⊙n + z⊙h_{n-1}`.
    case gru
    /// Element-wise recurrence (Li et al. 2018): `z = SW·x + w_t ⊙ h_{n-1} + b`.
    case indrnn
    /// Linear recurrent unit (Orvieto et al. 2023): a complex diagonal recurrence
    /// `s_n = λ ⊙ s_{n-1} + γ ⊙ (B x_n)`, `h_n = Re(C s_n) + D ⊙ x_n` (`LRULayer`).
    case lru

    /// The kind's name with its indefinite article, as a sentence says it: `an lstm`, `a gru`,
    /// `a dense` (names are read letter by letter, so the article follows the first letter's name:
    /// "el", "ar" take `an`).
    public var withArticle: String {
        let vowelSound = rawValue.first.map { "aefhilmnorsx".contains($0) } ?? false
        return (vowelSound ? "an " : "a ") + rawValue
    }
}

/// One layer of a network: its kind, its input and output sizes and its activation.
///
/// `activation` applies to rnn and dense layers. LSTM and GRU layers have fixed nonlinearities
/// (their gate equations); for them the engine ignores `activation`, and the configuration layer
/// rejects an `activation` key and stores `.tanh` (the squashing of their state).
public struct LayerSpec: Sendable, Equatable, Codable {
    public var kind: LayerKind
    /// Size of `h^{l-1}` (the dataset's input size for the first layer).
    public var inputs: Int
    /// Size of `h^l`.
    public var units: Int
    public var activation: Activation
    /// lru: the complex state size `S` (nil: `units`); other kinds: nil.
    public var state: Int?
    /// lru: the initialisation ring of `|λ|` and the phase range (nil: the paper's defaults).
    public var ring: LRURing?

    public init(kind: LayerKind, inputs: Int, units: Int, activation: Activation, state: Int? = nil, ring: LRURing? = nil) {
        self.kind = kind
        self.inputs = inputs
        self.units = units
        self.activation = activation
        self.state = state
        self.ring = ring
    }

    /// lru: `S`, the complex state size (`state`, default `units`); `units` for other kinds.
    public var stateSize: Int { state ?? units }

    /// Whether the layer has a `TW` term (rnn, lstm, gru).
    public var isRecurrent: Bool { kind.isRecurrent }

    /// LSTM or GRU.
    public var isGated: Bool { kind.isGated }

    /// Number of scalars: `SW` (G·units × inputs), `TW` (recurrent layers: G·units × units, or its
    /// diagonal `w_t`, units), and `b` (units) or, for gated layers, `b_s`, `b_t` (G·units each).
    public var parameterCount: Int {
        if kind == .lru { return LRULayer.parameterCount(self) }
        let rows = kind.gates * units
        return rows * inputs + recurrentWeightCount + (isGated ? 2 * rows : units)
    }

    /// Scalars of `TW`: `G·U·U` for a matrix, `U` for a diagonal `w_t`, 0 without recurrence.
    public var recurrentWeightCount: Int {
        let traits = kind.traits
        guard traits.isRecurrent else { return 0 }
        return traits.recurrentWeight == .matrix ? traits.gates * units * units : units
    }
}

/// The initialisation of an lru layer's `λ` (SPEC 2; Orvieto et al. 2023): `|λ|` uniform on the
/// ring `[rMin, rMax]` (by its square, uniform in area, as the paper), phase uniform on
/// `[0, 2π·maxPhase]`.
public struct LRURing: Sendable, Equatable, Codable {
    public var rMin: Double
    public var rMax: Double
    public var maxPhase: Double

    public init(rMin: Double = 0.9, rMax: Double = 0.999, maxPhase: Double = 1) {
        self.rMin = rMin
        self.rMax = rMax
        self.maxPhase = maxPhase
    }

    /// The paper's defaults: `r_min = 0.9`, `r_max = 0.999`, `max_phase = 1`.
    public static let standard = LRURing()
}
