import Foundation
import RNNCore
import RNNDatasets

extension ConfigResolver {
    // MARK: Rules that span sections

    /// - Parameter datasetLoss: the loss the dataset's targets call for (class targets: cross-entropy).
    mutating func crossCheck(_ c: inout ExperimentConfig, root: ConfigNode, datasetAt: SourceLocation, datasetLoss: Loss) {
        let layersNode = root["model"]?["layers"]
        func layerAt(_ i: Int, _ key: String) -> SourceLocation {
            if case .sequence(let items, _)? = layersNode, i < items.count {
                return items[i][key]?.location ?? items[i].location
            }
            return root.location
        }
        // Output units and activation defaults from the dataset and the loss.
        let last = c.layers.count - 1
        if let u = c.layers[last].units, u != c.outputSize {
            if !(c.loss == .crossEntropy && c.dataset.kind.descriptor.acceptsExtraOutputUnits(c.dataset) && u > c.outputSize) {
                error(layerAt(last, "units"), "model.layers.\(last).units",
                      "the dataset has \(c.outputSize) output\(c.outputSize == 1 ? "" : "s") (\(c.dataset.kind.rawValue)); leave units out or set \(c.outputSize)")
            } else {
                c.outputSize = u
            }
        }
        if !c.layers[last].kind.hasFixedActivation, root["model"]?["layers"].flatMap({ node -> ConfigNode? in
            if case .sequence(let items, _) = node { return items.last?["activation"] }
            return nil
        }) == nil {
            c.layers[last].activation = c.loss.requiredActivation ?? .identity
        }
        let spec = c.networkSpec
        for (i, layer) in c.layers.enumerated() where layer.activation == .softmax && i != last {
            error(layerAt(i, "activation"), "model.layers.\(i).activation", "softmax is allowed on the output layer only")
        }
        let lossAt = root["model"]?["loss"]?.location ?? layerAt(last, "activation")
        // A csv dataset without target_type reads real targets (mse): a softmax output or a
        // cross-entropy loss says the user meant class ids, so say how to declare them.
        let csvTargetsUndeclared = c.dataset.kind == .csv && root["dataset"]?["target_type"] == nil
            && (spec.layers[last].activation == .softmax || c.loss == .crossEntropy)
        if csvTargetsUndeclared {
            error(root["dataset"]?.location ?? datasetAt, "dataset.target_type",
                  "target_type defaults to real (mse on the target values), which does not fit a softmax output or cross-entropy; "
                  + "for class ids 0 … C-1 in the target column set target_type: class (binary for 0/1 targets)")
        } else if let required = c.loss.requiredActivation, spec.layers[last].kind.hasFixedActivation {
            error(layerAt(last, "type"), "model.layers.\(last).type",
                  "\(c.loss.rawValue) needs a \(required.rawValue) output layer; \(spec.layers[last].kind.withArticle) layer cannot be last (add {type: dense, activation: \(required.rawValue)} after it)")
        } else if let required = c.loss.requiredActivation, spec.layers[last].activation != required {
            error(lossAt, root["model"]?["loss"] != nil ? "model.loss" : "model.layers.\(last).activation",
                  "\(c.loss.rawValue) needs a \(required.rawValue) output layer, not \(spec.layers[last].activation.rawValue)")
        }
        if c.loss == .mse && spec.layers[last].activation == .softmax && !csvTargetsUndeclared {
            error(layerAt(last, "activation"), "model.layers.\(last).activation", "softmax output is paired with cross-entropy, not mse")
        }
        if (c.loss == .crossEntropy) != (datasetLoss == .crossEntropy) && !csvTargetsUndeclared {
            error(lossAt, "model.loss", "\(c.loss.rawValue) does not fit the \(c.dataset.kind.rawValue) dataset's targets (use \(datasetLoss.rawValue))")
        }
        if let path = c.initFrom, let at = root["model"]?["init_from"]?.location {
            if let data = FileManager.default.contents(atPath: path) {
                if case .failure(let e) = Safetensors.decode(data, spec: spec) {
                    error(at, "model.init_from", "\(relativeName(path)): \(e)")
                }
            } else {
                error(at, "model.init_from", "cannot read \(path)")
            }
        }
        let training = root["training"]
        // Online algorithms (SPEC 3.3): no truncation; the stack must suit the algorithm.
        if let online = c.training.algorithm.online {
            let algorithmAt = training?["algorithm"]?.location ?? root.location
            if let tauMaxAt = training?["tau_max"]?.location {
                error(tauMaxAt, "training.tau_max",
                      "\(online.rawValue) is an online algorithm: it carries the influence forward and truncates nothing; leave tau_max out (tau_b sets the update interval, default 1)")
            }
            if let problem = c.algorithm.problem(with: spec) {
                error(algorithmAt, "training.algorithm", problem)
            }
            let influence = Double(OnlineGradient<Float>.influenceScalars(spec: spec, algorithm: online, lanes: c.batch))
            if influence > Bounds.influenceValues {
                error(algorithmAt, "training.algorithm",
                      "\(online.rawValue) would carry \(Int(influence)) influence values (\(ExperimentConfig.megabytes(influence, c.precision)) MB for \(c.batch) lanes; more than \(Int(Bounds.influenceValues))); lower batch or units, or use snap1, uoro or rflo")
            }
        }
        if c.training.algorithm != .rflo, let at = training?["rflo_decay"]?.location, c.training.rfloDecay != 0 {
            error(at, "training.rflo_decay", "rflo_decay applies to algorithm: rflo only")
        }
        if c.training.algorithm != .rflo, let at = training?["rflo_feedback"]?.location, c.training.rfloFeedback != .symmetric {
            error(at, "training.rflo_feedback", "rflo_feedback applies to algorithm: rflo only")
        }
        guard c.training.algorithm == .bptt else {
            checkParameterCount(spec, at: layersNode?.location ?? root.location)
            return
        }
        // Truncation.
        if c.training.style != nil || c.training.styleRandom != nil, let at = training?["style"]?.location {
            for key in ["tau_max", "tau_b"] where training?[key] != nil {
                error(at, "training.style", "a style sets tau_b and tau_max: remove \(key) (or the style)")
            }
        }
        if c.training.randomTruncation, c.training.styleRandom == nil, let at = training?["tau_b"]?.location {
            error(at, "training.tau_b", "tau_b has no meaning with tau_max: random (an update happens where a truncation is drawn, and at the batch's end); leave it out")
        }
        if c.training.adaptiveTruncation, c.training.style == nil, let at = training?["tau_b"]?.location {
            error(at, "training.tau_b", "tau_b follows the chosen window with tau_max: adaptive (tau_b = tau_max); for another rule write training.style: {name: …, K: adaptive}")
        }
        if let node = training?["truncation"] {
            let given = Set(["continue", "delta", "every", "max_lag"].filter { node[$0] != nil })
            if !c.training.randomTruncation && !c.training.adaptiveTruncation {
                error(node.location, "training.truncation", "truncation: {continue: c} applies to tau_max: random only, {delta, every, max_lag} to tau_max: adaptive only")
            } else if c.training.randomTruncation {
                for key in ["delta", "every", "max_lag"] where given.contains(key) {
                    error(node[key]?.location ?? node.location, "training.truncation.\(key)", "\(key) applies to tau_max: adaptive only (this run is tau_max: random)")
                }
            } else if given.contains("continue") {
                error(node["continue"]?.location ?? node.location, "training.truncation.continue",
                      "continue applies to tau_max: random only (this run is tau_max: adaptive)")
            }
        }
        if c.layout == .stream && c.tauMax == nil && !c.training.randomTruncation && !c.training.adaptiveTruncation {
            let at = training?["tau_max"]?.location ?? datasetAt
            error(at, "training.tau_max", "\(ConfigResolver.withArticle(c.dataset.kind.rawValue)) stream has no sequence start to go back to: give a finite tau_max")
        }
        if let tb = c.tauB, let tm = c.tauMax, tb > tm {
            tauConflict = true
            error(training?["tau_b"]?.location ?? root.location, "training.tau_b",
                  "tau_b (\(tb)) is larger than tau_max (\(tm)): errors would not reach their own step")
        }
        // Memory of one window: stored activations of tau_max + tau_b steps.
        var steps = c.tauMax.map { $0 + max($0, c.tauB ?? $0) } ?? c.dataset.stepsPerSequence
        if c.training.randomTruncation && c.training.truncationContinue < 1 {
            // A drawn window is longer than L steps with probability c^L: 20 expected windows cover it.
            steps = min(steps, Int((20 / (1 - c.training.truncationContinue)).rounded(.up)))
        }
        if c.training.adaptiveTruncation {
            // The measuring pass stores about 2·max_lag steps; the widest window is 2·max_lag − 1.
            steps = min(steps, 4 * c.training.truncationMaxLag)
        }
        // (A gated layer stores its gates and cell too: about G + 1 times an rnn layer's values.)
        let units = spec.layers.reduce(0) { $0 + $1.units * ($1.isGated ? $1.kind.gates + 1 : 1) }
        let window = Double(steps) * Double(c.batch) * Double(units) * Bounds.valuesPerUnitStep
        if window > Bounds.windowValues {
            error(training?["batch"]?.location ?? root.location, "training",
                  "one window would store \(Int(window)) values (steps × batch × units); lower batch, tau_max or units")
        }
        checkParameterCount(spec, at: layersNode?.location ?? root.location)
    }

    private mutating func checkParameterCount(_ spec: NetworkSpec, at: SourceLocation) {
        let params = Double(spec.parameterCount)
        if params > Double(Bounds.parameters) {
            error(at, "model.layers", "the model would have \(Int(params)) parameters (more than \(Bounds.parameters))")
        }
    }
}
