/// Training loss, normalised as PyTorch's `reduction='mean'` (SPEC section 2): the mean over every
/// (lane, step, output unit) element that has a target inside the update's injection window;
/// cross-entropy averages over (lane, step) pairs.
///
/// ```
/// mse:                   C = (y - t)²                         dC/dy = 2 (y - t)
/// cross-entropy:         C = -log softmax(z)_t                 dC/dz = softmax(z) - onehot(t)
/// binary-cross-entropy:  C = -(t log y + (1-t) log(1-y))       dC/dz = y - t   (y = sigmoid(z))
/// ```
/// Matches PyTorch `nn.MSELoss()`, `nn.CrossEntropyLoss()` and `nn.BCELoss()` (whose logs are
/// clamped at -100).
public enum Loss: String, Sendable, Codable, CaseIterable {
    case mse
    case crossEntropy = "cross-entropy"
    case binaryCrossEntropy = "binary-cross-entropy"

    /// The output activation each loss is paired with, when it requires one.
    public var requiredActivation: Activation? {
        switch self {
        case .mse: return nil
        case .crossEntropy: return .softmax
        case .binaryCrossEntropy: return .sigmoid
        }
    }

    /// Whether targets are class ids (one per lane and step) rather than values per output unit.
    public var usesClassTargets: Bool { self == .crossEntropy }

    /// Whether the gradient is injected as `dC/dz` (softmax/sigmoid folded in) instead of `dC/dy`.
    var injectsPreActivation: Bool { self != .mse }
}
