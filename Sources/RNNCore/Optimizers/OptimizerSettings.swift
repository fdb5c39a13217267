/// Optimizer names accepted in experiment files.
public enum OptimizerName: String, Sendable, Codable, CaseIterable {
    case sgd, adam, rmsprop
}

/// An optimizer and its hyper-parameters, with PyTorch's defaults.
///
/// Which fields apply: `sgd` — lr, momentum, nesterov, weightDecay; `adam` — lr, beta1, beta2,
/// eps, weightDecay; `rmsprop` — lr, alpha, eps, momentum, weightDecay.
public struct OptimizerSettings: Sendable, Equatable, Codable {
    public var name: OptimizerName
    public var lr: Double
    public var momentum: Double = 0
    public var nesterov: Bool = false
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var eps: Double = 1e-8
    public var alpha: Double = 0.99
    public var weightDecay: Double = 0

    public init(name: OptimizerName, lr: Double? = nil) {
        self.name = name
        self.lr = lr ?? OptimizerSettings.defaultLearningRate(name)
    }

    /// `torch.optim` defaults: SGD 1e-3, Adam 1e-3, RMSprop 1e-2.
    public static func defaultLearningRate(_ name: OptimizerName) -> Double {
        name == .rmsprop ? 0.01 : 0.001
    }
}
