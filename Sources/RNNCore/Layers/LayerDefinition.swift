/// What the engines need of one layer kind (SPEC 2), said in one place per kind: each kind is an
/// enum in `Layers/Kinds/` (`ElmanLayer` for `rnn`, `DenseLayer`, `LSTMLayer`, `GRULayer`) that
/// conforms to this protocol, with
/// - its parameters (`traits`: gate blocks, recurrence, biases, state size, the workspace it
///   needs; tensor names follow from them, `ParameterLayout.namedTensors`), PyTorch names and
///   initialisation (uniform in `±1/sqrt(units)`, `NetworkSpec.initialParameters`);
/// - the forward step of a chunk of steps (`forward`, into `Network`'s workspace);
/// - the backward step of a window (`backward`: `delta` from the error `E^l` that reached its
///   output, the weight gradients), and the error it sends to its input (`inputDeltaBlocks`:
///   `E^{l-1} = Delta_x^l · SW^l`) and through its own recurrence (`addDirectStatePath`);
/// - the per-step local pieces of the online algorithms (`D_n`, the direct dependence of the
///   state on the previous state outside `TW`; see `OnlineGradient`).
///
/// Engines dispatch statically: `LayerKind.accept` opens the kind once per layer and engine entry
/// (a chunk, a window, a step of all lanes), and the visitor's `visit<Kind>` calls the kind's
/// static functions specialised for it; nothing switches on a kind per element.
///
/// Adding a kind: its file in `Layers/Kinds/`, a case in `LayerKind` and its line in
/// `LayerKind.accept` (the registration), and its tests.
protocol LayerDefinition {
    /// The facts about the kind's parameters and state that the engines size their buffers by.
    static var traits: LayerTraits { get }

    /// Steps `(p, n]` of layer `l` forward over every lane with the current weights, into the
    /// network's workspace: `h^l` for every step of the chunk (and `aux` rows where the kind keeps
    /// gates or a cell). The top layer of a cross-entropy stack keeps its row losses
    /// (`Network.softmaxKeepingRowLoss`).
    static func forward<Scalar: RNNScalar>(_ network: Network<Scalar>, _ view: BatchView<Scalar>,
                                           layer l: Int, from p: Int, to n: Int)

    /// The backward pass of layer `l` over the window rows `lo ... n` of the update at `n`
    /// (errors injected at `(p, n]`). On entry the first `U` columns of its delta rows hold `E^l`,
    /// the error on its output `h^l` (at the top layer of a folded loss, zero: the injected
    /// `dC/dz` is added after `sigma'`); on exit they hold `delta` as `inputDeltaBlocks` and the
    /// recursion of the layer above expect, and `ΔSW`, `ΔTW`, `Δb` of the window are accumulated
    /// into the algorithm's gradient. Every error that crosses from step `m + 1` to step `m`
    /// through the layer's recurrence (its `TW`, and any direct path of its cell) is multiplied by
    /// `crossing` (1 but for random truncation, `1/c`, `RandomTruncation`; at 1 nothing is
    /// multiplied, so results are those of the plain recursion bit for bit).
    static func backward<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, _ view: BatchView<Scalar>,
                                            layer l: Int, windowStart lo: Int, from p: Int, to n: Int,
                                            crossing s: Scalar)

    /// `dh_m += (∂h_{m+1}/∂h_m)ᵀ-part of the recurrence` over the rows `dh` of steps `r0 ... t`
    /// ((t - r0 + 1, B, U)), for the credit profile (`TruncatedBPTT.creditProfile`): with the
    /// deltas of the credit pass in the delta rows, `TWᵀ Delta_h_{m+1}` for `m < t` (one GEMM,
    /// `TruncatedBPTT.addMatrixRecurrenceError`, by default), then any path through the cell's own
    /// recurrence, downward in `m` (gru: `z_{m+1} ⊙ dh_{m+1}`).
    static func addRecurrentStateError<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, layer l: Int,
                                                          dh: UnsafeMutablePointer<Scalar>, from r0: Int, to t: Int)

    /// One step of layer `l` forward for every lane of the online engine with the weights `w`
    /// (state `h`, `c` from `hPrev`, `cPrev`, which the engine set), and for layers up to the top
    /// recurrent one its local derivatives: `Ds`, `Dt` (S, G per lane) and `self` (S per lane), as
    /// `OnlineGradient`'s doc defines them.
    static func onlineStep<Scalar: RNNScalar>(_ engine: OnlineGradient<Scalar>, layer l: Int, _ w: UnsafePointer<Scalar>)

    /// A kind whose parameters are not `SW`, `TW`, `b` (`b_s`, `b_t`): its tensors in layout
    /// order, as (name after `layers.<i>.`, shape); nil (the default) for the standard ones.
    static func tensors(_ layer: LayerSpec) -> [(name: String, shape: [Int])]?

    /// Columns per step and lane of the layer's rows in the engines' workspace: `aux` (kept per
    /// step by `Network`, moved with `h`), `delta` (`TruncatedBPTT`'s rows; the first `U` hold
    /// the error `E^l` on entry to `backward`) and `scratch` (one buffer per layer, for values
    /// derived from the weights). Default: `auxPerUnit · U`, `deltaPerUnit · U`, 0.
    static func workspace(_ layer: LayerSpec) -> LayerWorkspace

    /// Layer `layer`'s initial values (`count = parameterCount`, layout order) from `rng`.
    /// Default: PyTorch's, every value uniform in `±1/sqrt(units)`.
    static func initialValues(_ layer: LayerSpec, _ rng: inout Xoshiro256) -> [Double]

    /// `E^{l-1}` for `rows` rows of layer `l`'s delta from step `m`, into `c` (row stride `ldc`,
    /// overwritten): by default `Delta_x^l · SW^l` (`TruncatedBPTT.sendDownThroughInputWeights`).
    static func sendDown<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, from l: Int, rows: Int, stepFrom m: Int,
                                            into c: UnsafeMutablePointer<Scalar>, ldc: Int)

    /// For a kind whose recurrent state is not its output `h` (lru: the complex `s`), the credit
    /// profile's `Σ_lanes |∂C_t/∂s_m|²` at step `m` from the delta rows of the credit pass just
    /// run; nil (the default) where the profile measures `h`'s rows (SPEC 3.1, 3.4).
    static func stateCreditSquares<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, layer l: Int, step m: Int) -> Double?
}

/// A layer's columns per step and lane in the engines' workspace (`LayerDefinition.workspace`).
public struct LayerWorkspace: Sendable, Equatable {
    public var aux: Int
    public var delta: Int
    public var scratch: Int
}

extension LayerDefinition {
    static func tensors(_ layer: LayerSpec) -> [(name: String, shape: [Int])]? { nil }

    static func workspace(_ layer: LayerSpec) -> LayerWorkspace {
        LayerWorkspace(aux: traits.auxPerUnit * layer.units, delta: traits.deltaPerUnit * layer.units, scratch: 0)
    }

    static func initialValues(_ layer: LayerSpec, _ rng: inout Xoshiro256) -> [Double] {
        let bound = 1.0 / Double(layer.units).squareRoot()
        return (0..<layer.parameterCount).map { _ in rng.uniform(-bound, bound) }
    }

    static func sendDown<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, from l: Int, rows: Int, stepFrom m: Int,
                                            into c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        bptt.sendDownThroughInputWeights(from: l, rows: rows, stepFrom: m, into: c, ldc: ldc)
    }

    static func stateCreditSquares<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, layer l: Int, step m: Int) -> Double? { nil }

    /// A kind whose traits say the online algorithms do not support it never gets here
    /// (`OnlineGradient` refuses the stack before it allocates anything).
    static func onlineStep<Scalar: RNNScalar>(_ engine: OnlineGradient<Scalar>, layer l: Int, _ w: UnsafePointer<Scalar>) {}

    static func addRecurrentStateError<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, layer l: Int,
                                                          dh: UnsafeMutablePointer<Scalar>, from r0: Int, to t: Int) {
        bptt.addMatrixRecurrenceError(layer: l, dh: dh, from: r0, to: t)
    }
}

/// The facts of a layer kind that engines size and lay out their buffers by (per unit `U`).
public struct LayerTraits: Sendable, Equatable {
    /// `G`: gate blocks stacked in `SW` and `TW` (and in `b_s`, `b_t`): 1, lstm 4, gru 3.
    public var gates: Int
    /// Whether the layer has a `TW` term, a state `h^l_{n-1}` that truncation cuts.
    public var isRecurrent: Bool
    /// LSTM and GRU: fixed gate nonlinearities (an `activation` key is a configuration error),
    /// two bias vectors `b_s`, `b_t` (PyTorch's `bias_ih`, `bias_hh`), gate deltas per row.
    public var isGated: Bool
    /// The shape of the recurrent weight: a `G·U × U` matrix `W_t` (rnn, lstm, gru), or the
    /// diagonal of `TW`, a vector `w_t` of `U` (element-wise recurrence).
    public var recurrentWeight: RecurrentWeight
    /// Whether the online algorithms (SPEC 3.3) can train the kind; `OnlineGradient` refuses a
    /// stack with a kind that says no, with a plain sentence.
    public var supportsOnlineAlgorithms: Bool
    /// The kind's nonlinearity is fixed (lstm, gru: their gate equations; lru: linear), so an
    /// `activation` key is a configuration error.
    public var hasFixedActivation: Bool
    /// `S / U`: the recurrent state per unit (lstm `[h; c]`: 2; otherwise 1).
    public var statePerUnit: Int
    /// Columns per unit of a step's `aux` row in `Network`'s workspace (gates, cell): lstm 6
    /// (`[i f g o | c | tanh(c)]`), gru 4 (`[r z n | TW_n·h + b_tn]`), 0 for none.
    public var auxPerUnit: Int
    /// Columns per unit of a step's delta row in `TruncatedBPTT`: 1 (`delta`), gated layers 4
    /// (lstm `[i f g o]`, gru `[r z n_h n_x]`).
    public var deltaPerUnit: Int
    /// How a unit's new state depends on the previous state outside `TW` (the online
    /// algorithms' `self` coefficients, `OnlineGradient`): not at all, on the same unit's `h`
    /// (gru: `z_k`), or on the same unit's cell `c` (lstm: both `h_k` and `c_k` through `c_{n-1,k}`).
    public var directDependence: DirectStateDependence
    /// The blocks of a delta row that multiply `SW` (`Delta_x`), as (first column, first weight
    /// row, count) per unit count: one block of `G·U` columns from 0, except gru's
    /// `(r z)` = columns `0 ..< 2U` and `n_x` = columns `3U ..< 4U` (weight rows `2U ..< 3U`).
    public var inputDeltaBlocks: InputDeltaBlocks

    public init(gates: Int, isRecurrent: Bool, isGated: Bool, statePerUnit: Int = 1, auxPerUnit: Int = 0,
                deltaPerUnit: Int = 1, directDependence: DirectStateDependence = .none,
                inputDeltaBlocks: InputDeltaBlocks = .contiguous, recurrentWeight: RecurrentWeight = .matrix,
                supportsOnlineAlgorithms: Bool = true, hasFixedActivation: Bool? = nil) {
        self.hasFixedActivation = hasFixedActivation ?? isGated
        self.recurrentWeight = recurrentWeight
        self.supportsOnlineAlgorithms = supportsOnlineAlgorithms
        self.directDependence = directDependence
        self.gates = gates
        self.isRecurrent = isRecurrent
        self.isGated = isGated
        self.statePerUnit = statePerUnit
        self.auxPerUnit = auxPerUnit
        self.deltaPerUnit = deltaPerUnit
        self.inputDeltaBlocks = inputDeltaBlocks
    }

    /// The state has a cell `c` beside `h` (lstm: `S = [h; c]`).
    public var hasCell: Bool { statePerUnit > 1 }
}

/// The shape of a recurrent layer's `TW` (`LayerTraits.recurrentWeight`).
public enum RecurrentWeight: Sendable, Equatable {
    /// `W_t`, `G·U × U`, row-major.
    case matrix
    /// `w_t`, the `U` diagonal entries of `TW`.
    case diagonal
    /// A complex diagonal `λ` on a state that is not the output (lru: `s_n = λ ⊙ s_{n-1} + …`,
    /// `h_n = Re(C s_n) + D ⊙ x_n`), with parameters of the kind's own (`LayerDefinition.tensors`).
    case complexDiagonal
}

/// How a unit's state depends on the previous state outside `TW` (`LayerTraits.directDependence`).
public enum DirectStateDependence: Sendable, Equatable {
    case none
    /// `∂h_{n,k}/∂h_{n-1,k}` (gru: `z_k`), state index `k`.
    case sameUnitHidden
    /// `∂s_{n,k}/∂c_{n-1,k}` for both of unit `k`'s state rows (lstm), state index `U + k`.
    case sameUnitCell
}

/// Where `Delta_x` sits in a delta row (see `LayerTraits.inputDeltaBlocks`).
public enum InputDeltaBlocks: Sendable, Equatable {
    /// Columns `0 ..< G·U` multiply weight rows `0 ..< G·U` of `SW`.
    case contiguous
    /// GRU: columns `0 ..< 2U` (r, z) multiply rows `0 ..< 2U`; columns `3U ..< 4U` (`n_x`) rows
    /// `2U ..< 3U`.
    case gru

    /// The blocks as (first column, first weight row, count) for a layer of `units` and `gates`;
    /// at most two, without an array (the backward pass calls this at every update).
    @inline(__always)
    func blocks(units u: Int, gates: Int) -> (first: (column: Int, row: Int, count: Int), second: (column: Int, row: Int, count: Int)?) {
        switch self {
        case .contiguous: return ((0, 0, gates * u), nil)
        case .gru: return ((0, 0, 2 * u), (3 * u, 2 * u, u))
        }
    }
}

/// An engine entry that runs per layer: `visit` receives the layer's definition as a type, so
/// that its body calls the kind's static functions specialised for it.
protocol LayerKindVisitor {
    associatedtype Result
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) -> Result
}

extension LayerKind {
    /// The registration of every layer kind: its definition, handed to `visitor` (one switch per
    /// engine entry and layer, never per element).
    @inline(__always)
    func accept<Visitor: LayerKindVisitor>(_ visitor: Visitor) -> Visitor.Result {
        switch self {
        case .rnn: return visitor.visit(ElmanLayer.self)
        case .dense: return visitor.visit(DenseLayer.self)
        case .lstm: return visitor.visit(LSTMLayer.self)
        case .gru: return visitor.visit(GRULayer.self)
        case .indrnn: return visitor.visit(IndRNNLayer.self)
        case .lru: return visitor.visit(LRULayer.self)
        }
    }

    /// The kind's traits (its definition's).
    public var traits: LayerTraits { accept(TraitsOf()) }

    /// The kind's own tensors (`LayerDefinition.tensors`), nil for `SW`, `TW`, `b`.
    func tensors(_ layer: LayerSpec) -> [(name: String, shape: [Int])]? { accept(TensorsOf(layer: layer)) }

    /// The layer's workspace columns (`LayerDefinition.workspace`).
    func workspace(_ layer: LayerSpec) -> LayerWorkspace { accept(WorkspaceOf(layer: layer)) }

    /// Number of stacked gate blocks G in `SW` and `TW`: 4 (lstm), 3 (gru), 1 otherwise.
    public var gates: Int { traits.gates }

    /// LSTM and GRU: fixed gate nonlinearities, two bias vectors `b_s`, `b_t`.
    public var isGated: Bool { traits.isGated }

    /// No `activation` key (lstm, gru, lru).
    public var hasFixedActivation: Bool { traits.hasFixedActivation }

    /// Whether the layer has a `TW` term.
    public var isRecurrent: Bool { traits.isRecurrent }
}

private struct TraitsOf: LayerKindVisitor {
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) -> LayerTraits { Kind.traits }
}

private struct TensorsOf: LayerKindVisitor {
    let layer: LayerSpec
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) -> [(name: String, shape: [Int])]? { Kind.tensors(layer) }
}

private struct WorkspaceOf: LayerKindVisitor {
    let layer: LayerSpec
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) -> LayerWorkspace { Kind.workspace(layer) }
}

/// Layer `layer`'s initial values through its definition.
struct InitialValues: LayerKindVisitor {
    let layer: LayerSpec
    let rng: UnsafeMutablePointer<Xoshiro256>
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) -> [Double] { Kind.initialValues(layer, &rng.pointee) }
}

/// `TruncatedBPTT`'s `E^{l-1}` through layer `l`'s definition.
struct SendDown<Scalar: RNNScalar>: LayerKindVisitor {
    let bptt: TruncatedBPTT<Scalar>
    let layer: Int, rows: Int, step: Int
    let c: UnsafeMutablePointer<Scalar>, ldc: Int
    @inline(__always)
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) {
        Kind.sendDown(bptt, from: layer, rows: rows, stepFrom: step, into: c, ldc: ldc)
    }
}

/// The credit profile's state rows through layer `l`'s definition (`LayerDefinition.stateCreditSquares`).
struct StateCreditSquares<Scalar: RNNScalar>: LayerKindVisitor {
    let bptt: TruncatedBPTT<Scalar>
    let layer: Int, step: Int
    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) -> Double? { Kind.stateCreditSquares(bptt, layer: layer, step: step) }
}
