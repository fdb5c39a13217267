import Foundation
import RNNCore
import RNNDatasets

extension ConfigResolver {
    // MARK: training (the keys: TrainingSettings.keys)

    /// `training.optimizer`: a name, or a block with a name and the hyper-parameters it takes.
    mutating func resolveOptimizer(_ node: ConfigNode?) -> OptimizerSettings? {
        guard let node else { return OptimizerSettings(name: .sgd) }
        if case .scalar = node {
            guard let name = choice(node, "training.optimizer", "optimizer", OptimizerName.self) else { return nil }
            return OptimizerSettings(name: name)
        }
        guard entries(node, "training.optimizer", allowed: Self.optimizerKeys) != nil else { return nil }
        let p = "training.optimizer"
        // Without a name the optimizer is sgd (as when the block is left out).
        let name: OptimizerName
        if let nameNode = node["name"] {
            guard let n = choice(nameNode, "\(p).name", "optimizer", OptimizerName.self) else { return nil }
            name = n
        } else {
            name = .sgd
        }
        if case .mapping(let entries, _) = node {
            let takes = name.parameterKeys.map(\.rawValue)
            for e in entries where Self.optimizerKeys.contains(e.key) && e.key != "name" && !takes.contains(e.key) {
                error(e.keyAt, "\(p).\(e.key)", "\(name.rawValue) has no \(e.key) (it takes \(takes.joined(separator: ", ")))")
            }
        }
        var s = OptimizerSettings(name: name)
        let start = errors.count
        for key in OptimizerParameterKey.allCases {
            let path = "\(p).\(key.rawValue)"
            switch key.range {
            case .real(let r, let open):
                if let v = double(node[key.rawValue], path, min: r.lowerBound, open: open, max: r.upperBound) { s[key] = .real(v) }
            case .flag:
                if let v = bool(node[key.rawValue], path) { s[key] = .flag(v) }
            }
        }
        if s.nesterov && s.momentum == 0, let n = node["nesterov"] {
            error(n.location, "\(p).nesterov", "Nesterov momentum needs momentum > 0")
        }
        return errors.count == start ? s : nil
    }
}
