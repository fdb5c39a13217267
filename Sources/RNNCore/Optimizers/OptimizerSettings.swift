/// Optimizer names accepted in experiment files.
public enum OptimizerName: String, Sendable, Codable, CaseIterable {
    case sgd, adam, rmsprop
}

/// An optimizer and its hyper-parameters, with PyTorch's defaults.
///
/// Which fields apply to which optimizer, with their defaults and ranges, is declared once by
/// `OptimizerName.parameters` (`OptimizerParameter.swift`): `sgd` takes lr, momentum, nesterov,
/// weight_decay; `adam` lr, beta1, beta2, eps, weight_decay; `rmsprop` lr, alpha, eps, momentum,
/// weight_decay. Fields an optimizer does not take keep their defaults and are ignored.
public struct OptimizerSettings: Sendable, Equatable, Codable {
    public var name: OptimizerName
    public var lr: Double = 0
    public var momentum: Double = 0
    public var nesterov: Bool = false
    public var beta1: Double = 0
    public var beta2: Double = 0
    public var eps: Double = 0
    public var alpha: Double = 0
    public var weightDecay: Double = 0

    /// Every hyper-parameter at its default for `name` (`OptimizerParameterKey.defaultValue`),
    /// then `lr` if given.
    public init(name: OptimizerName, lr: Double? = nil) {
        self.name = name
        for key in OptimizerParameterKey.allCases { self[key] = key.defaultValue(for: name) }
        if let lr { self.lr = lr }
    }

    /// `torch.optim` defaults: SGD 1e-3, Adam 1e-3, RMSprop 1e-2.
    public static func defaultLearningRate(_ name: OptimizerName) -> Double {
        name == .rmsprop ? 0.01 : 0.001
    }
}
