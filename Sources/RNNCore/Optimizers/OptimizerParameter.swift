/// The hyper-parameter keys of `training.optimizer`, in the order messages list them.
public enum OptimizerParameterKey: String, Sendable, CaseIterable {
    case lr, momentum, nesterov, beta1, beta2, eps, alpha
    case weightDecay = "weight_decay"
}

/// One hyper-parameter an optimizer takes: its key, its default (PyTorch's) and its valid range.
public struct OptimizerParameter: Sendable, Equatable {
    /// A hyper-parameter value: a real number or an on/off flag.
    public enum Value: Sendable, Equatable {
        case real(Double)
        case flag(Bool)
    }

    /// The values a parameter accepts.
    public enum Range: Sendable, Equatable {
        /// A real in `bounds`; `excludingLower` makes the lower bound open (`lr > 0`).
        case real(ClosedRange<Double>, excludingLower: Bool)
        case flag
    }

    public let key: OptimizerParameterKey
    public let defaultValue: Value
    public let range: Range
}

extension OptimizerParameterKey {
    /// The valid range, the same for every optimizer that takes the key. Upper bounds just below
    /// 1 keep the running averages (`momentum`, `beta1`, `beta2`, `alpha`) from never forgetting.
    public var range: OptimizerParameter.Range {
        switch self {
        case .lr, .eps: return .real(0...Double.greatestFiniteMagnitude, excludingLower: true)
        case .momentum, .beta1: return .real(0...0.999_999, excludingLower: false)
        case .beta2, .alpha: return .real(0...0.999_999_999, excludingLower: false)
        case .weightDecay: return .real(0...Double.greatestFiniteMagnitude, excludingLower: false)
        case .nesterov: return .flag
        }
    }

    /// `torch.optim` defaults: lr from `OptimizerSettings.defaultLearningRate`; momentum 0, no
    /// Nesterov, betas (0.9, 0.999), eps 1e-8, alpha 0.99, no weight decay.
    public func defaultValue(for name: OptimizerName) -> OptimizerParameter.Value {
        switch self {
        case .lr: return .real(OptimizerSettings.defaultLearningRate(name))
        case .momentum: return .real(0)
        case .nesterov: return .flag(false)
        case .beta1: return .real(0.9)
        case .beta2: return .real(0.999)
        case .eps: return .real(1e-8)
        case .alpha: return .real(0.99)
        case .weightDecay: return .real(0)
        }
    }
}

extension OptimizerName {
    /// The keys the optimizer takes, in the order the canonical YAML writes them.
    public var parameterKeys: [OptimizerParameterKey] {
        switch self {
        case .sgd: return [.lr, .momentum, .nesterov, .weightDecay]
        case .adam: return [.lr, .beta1, .beta2, .eps, .weightDecay]
        case .rmsprop: return [.lr, .alpha, .eps, .momentum, .weightDecay]
        }
    }

    /// Every hyper-parameter the optimizer takes, with its default and range.
    public var parameters: [OptimizerParameter] {
        parameterKeys.map { OptimizerParameter(key: $0, defaultValue: $0.defaultValue(for: self), range: $0.range) }
    }
}

extension OptimizerSettings {
    /// The value of one hyper-parameter (whether or not this optimizer takes it).
    public subscript(key: OptimizerParameterKey) -> OptimizerParameter.Value {
        get {
            switch key {
            case .lr: return .real(lr)
            case .momentum: return .real(momentum)
            case .nesterov: return .flag(nesterov)
            case .beta1: return .real(beta1)
            case .beta2: return .real(beta2)
            case .eps: return .real(eps)
            case .alpha: return .real(alpha)
            case .weightDecay: return .real(weightDecay)
            }
        }
        set {
            switch (key, newValue) {
            case (.lr, .real(let v)): lr = v
            case (.momentum, .real(let v)): momentum = v
            case (.nesterov, .flag(let v)): nesterov = v
            case (.beta1, .real(let v)): beta1 = v
            case (.beta2, .real(let v)): beta2 = v
            case (.eps, .real(let v)): eps = v
            case (.alpha, .real(let v)): alpha = v
            case (.weightDecay, .real(let v)): weightDecay = v
            default: break  // a value of the wrong type is ignored
            }
        }
    }
}
