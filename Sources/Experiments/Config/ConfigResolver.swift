import Foundation
import RNNCore
import RNNDatasets

/// Turns an experiment document (one grid point) into an `ExperimentConfig`, collecting every
/// problem as a located `ConfigError` instead of stopping at the first.
struct ConfigResolver {
    let file: String
    var errors: [ConfigError] = []
    /// Set when the only problem of a point may be `tau_b > tau_max` (skipped in a sweep).
    var tauConflict = false
    /// Dataset shapes, and the data files already read (text and csv), keyed by their resolved configuration.
    var datasets: DatasetCatalog

    static let topKeys = ["name", "description", "dataset", "model", "training", "diagnostics", "sweep"]
    static let diagnosticsKeys = ["gradient_every", "reference_tau_max", "credit_lags"]
    static let modelKeys = ["layers", "loss", "init_from"]
    static let layerKeys = ["type", "units", "activation"]
    static let trainingKeys = ["epochs", "batch", "tau_max", "tau_b", "optimizer", "clip_norm", "seed", "shuffle", "precision"]
    static let optimizerKeys = ["name"] + OptimizerParameterKey.allCases.map(\.rawValue)

    /// Upper bounds that keep a typo from allocating the machine away.
    enum Bounds {
        static let units = 65_536
        static let sequenceLength = DatasetLimits.sequenceLength
        static let epochs = 1_000_000
        static let batch = 1_000_000
        static let datasetValues = 500_000_000
        /// Values one update window may store: `steps × batch × units × valuesPerUnitStep`.
        static let windowValues = 2e9
        /// Values kept per unit and step of a window, counted generously: the engine stores the state
        /// `h` and the error `delta` per slot; the third leaves room for the injected errors and scratch.
        static let valuesPerUnitStep = 3.0
        static let parameters = 500_000_000
    }

    init(file: String, cache: DatasetCatalog) {
        self.file = file
        self.datasets = cache
    }

    mutating func error(_ at: SourceLocation, _ path: String, _ message: String) {
        errors.append(ConfigError(at, path, message))
    }

    // MARK: Typed accessors

    /// Entries of a mapping, reporting unknown keys (with a suggestion) and non-mappings.
    mutating func entries(_ node: ConfigNode?, _ path: String, allowed: [String]) -> [ConfigNode.Entry]? {
        guard let node else { return nil }
        guard case .mapping(let entries, _) = node else {
            error(node.location, path, "expected a mapping (key: value lines), found \(node.kindDescription)")
            return nil
        }
        for e in entries where !allowed.contains(e.key) {
            error(e.keyAt, join(path, e.key), Suggestion.unknownKey(e.key, candidates: allowed))
        }
        return entries
    }

    func relativeName(_ path: String) -> String { (path as NSString).lastPathComponent }

    func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : "\(a).\(b)" }

    mutating func scalar(_ node: ConfigNode, _ path: String, expected: String) -> String? {
        guard case .scalar(let s, _, _) = node else {
            error(node.location, path, "expected \(expected), found \(node.kindDescription)")
            return nil
        }
        return s
    }

    mutating func int(_ node: ConfigNode?, _ path: String, min lo: Int, max hi: Int = Int(Int32.max)) -> Int? {
        guard let node, let s = scalar(node, path, expected: "an integer") else { return nil }
        let cleaned = s.replacingOccurrences(of: "_", with: "")
        var value = Int(cleaned)
        if value == nil, let d = Double(cleaned), d.isFinite, d == d.rounded(), abs(d) < 9e18 { value = Int(d) }
        guard let v = value else {
            if let d = Double(cleaned), d.isFinite, abs(d) >= 9e18 {
                error(node.location, path, "\(s) is too large (at most \(hi))")
            } else {
                error(node.location, path, "expected an integer, found \(node.kindDescription)")
            }
            return nil
        }
        guard v >= lo else { error(node.location, path, "must be at least \(lo), found \(s)"); return nil }
        guard v <= hi else { error(node.location, path, "\(s) is too large (at most \(hi))"); return nil }
        return v
    }

    /// A real number; `open` excludes the lower bound.
    mutating func double(_ node: ConfigNode?, _ path: String, min lo: Double, open: Bool = false, max hi: Double = .greatestFiniteMagnitude) -> Double? {
        guard let node, let s = scalar(node, path, expected: "a number") else { return nil }
        guard let v = Double(s.replacingOccurrences(of: "_", with: "")), v.isFinite else {
            error(node.location, path, "expected a number, found \(node.kindDescription)")
            return nil
        }
        if open ? !(v > lo) : !(v >= lo) {
            error(node.location, path, open ? "must be greater than \(Self.show(lo)), found \(s)" : "must be at least \(Self.show(lo)), found \(s)")
            return nil
        }
        if v > hi {
            error(node.location, path, "must be at most \(Self.show(hi)), found \(s)")
            return nil
        }
        return v
    }

    static func show(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)" }

    /// A truncation horizon: a number of steps (1 … the sequence bound), or `full` (nil, as is a
    /// missing key); anything else is a located error (and nil).
    mutating func horizon(_ node: ConfigNode?, _ path: String) -> Int? {
        guard let node, node.text != "full" else { return nil }
        let steps = int(node, path, min: 1, max: Bounds.sequenceLength)
        if steps == nil, let t = node.text, Int(t) == nil, Double(t) == nil {
            errors.removeLast()
            error(node.location, path, "expected a positive integer or full, found \(node.kindDescription)")
        }
        return steps
    }

    mutating func bool(_ node: ConfigNode?, _ path: String) -> Bool? {
        guard let node, let s = scalar(node, path, expected: "true or false") else { return nil }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: error(node.location, path, "expected true or false, found \(node.kindDescription)"); return nil
        }
    }

    mutating func string(_ node: ConfigNode?, _ path: String) -> String? {
        guard let node else { return nil }
        return scalar(node, path, expected: "a string")
    }

    mutating func choice<E: RawRepresentable & CaseIterable>(_ node: ConfigNode?, _ path: String, _ what: String,
                                                             _ type: E.Type, exclude: [String] = []) -> E? where E.RawValue == String {
        let names = E.allCases.map(\.rawValue).filter { !exclude.contains($0) }
        return choice(node, path, what, names: names).flatMap(E.init(rawValue:))
    }

    /// One of `names`, with a did-you-mean suggestion otherwise.
    mutating func choice(_ node: ConfigNode?, _ path: String, _ what: String, names: [String]) -> String? {
        guard let node, let s = scalar(node, path, expected: "a \(what) name") else { return nil }
        if names.contains(s) { return s }
        error(node.location, path, Suggestion.unknownValue(s, what: what, candidates: names))
        return nil
    }

    mutating func stringList(_ node: ConfigNode?, _ path: String) -> [String]? {
        guard let node else { return nil }
        guard case .sequence(let items, _) = node else {
            if case .scalar(let s, _, _) = node { return [s] }
            error(node.location, path, "expected a list of column names, found \(node.kindDescription)")
            return nil
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = scalar(item, "\(path).\(i)", expected: "a column name") else { return nil }
            out.append(s)
        }
        if out.isEmpty { error(node.location, path, "the list is empty") }
        return out
    }

    /// A non-empty list of numbers, each read by `item` (a single number reads as a list of one).
    mutating func numberList<T>(_ node: ConfigNode?, _ path: String, item: (inout Self, ConfigNode, String) -> T?) -> [T]? {
        guard let node else { return nil }
        guard case .sequence(let items, _) = node else {
            if case .scalar = node { return item(&self, node, path).map { [$0] } }
            error(node.location, path, "expected a list of numbers like [1, 2], found \(node.kindDescription)")
            return nil
        }
        guard !items.isEmpty else { error(node.location, path, "the list is empty"); return nil }
        var out: [T] = []
        for (i, node) in items.enumerated() {
            guard let v = item(&self, node, "\(path).\(i)") else { return nil }
            out.append(v)
        }
        return out
    }

    /// A path relative to the experiment file, which must exist.
    mutating func existingPath(_ node: ConfigNode?, _ path: String) -> String? {
        guard let s = string(node, path), let node else { return nil }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        let resolved = s.hasPrefix("/") ? URL(fileURLWithPath: s) : base.appendingPathComponent(s)
        let absolute = resolved.standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            error(node.location, path, "file not found: \(s) (looked for \(absolute))")
            return nil
        }
        guard !isDirectory.boolValue else {
            error(node.location, path, "\(s) is a folder, not a file")
            return nil
        }
        return absolute
    }

    // MARK: The document

    mutating func resolve(_ root: ConfigNode) -> ExperimentConfig? {
        let start = errors.count
        _ = entries(root, "", allowed: Self.topKeys)
        let fileName = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        var name = fileName
        if let n = root["name"], let s = string(n, "name") {
            if s.isEmpty || s.contains("/") || s.hasPrefix(".") || s.count > 100 {
                error(n.location, "name", "must be a plain folder name (no '/', not starting with '.'), found '\(s)'")
            } else {
                name = s
            }
        }
        let description = root["description"].flatMap { string($0, "description") } ?? ""

        let dataset = resolveDataset(root["dataset"], at: root.location)
        let model = resolveModel(root["model"], at: root.location)
        let training = resolveTraining(root["training"], at: root.location)
        let diagnostics = resolveDiagnostics(root["diagnostics"])
        guard errors.count == start, let dataset, let model, let training, let diagnostics else { return nil }

        var config = ExperimentConfig(
            name: name, description: description, file: file, dataset: dataset.config, layers: model.layers,
            loss: model.loss ?? dataset.shape.loss, initFrom: model.initFrom, epochs: training.epochs,
            batch: training.batch, tauMax: training.tauMax, tauB: training.tauB, optimizer: training.optimizer,
            clipNorm: training.clipNorm, seed: training.seed, shuffle: training.shuffle, precision: training.precision,
            inputSize: dataset.shape.inputs, outputSize: dataset.shape.outputs, metric: dataset.shape.metric,
            layout: dataset.shape.layout, diagnostics: diagnostics)
        crossCheck(&config, root: root, datasetAt: dataset.kindAt, datasetLoss: dataset.shape.loss)
        checkDiagnostics(config, root: root)
        return errors.count == start ? config : nil
    }

    // MARK: dataset

    mutating func resolveDataset(_ node: ConfigNode?, at: SourceLocation) -> (config: DatasetConfig, shape: DatasetShape, kindAt: SourceLocation)? {
        guard let node else { error(at, "dataset", "missing: every experiment needs a dataset: block with a kind"); return nil }
        guard case .mapping = node else { _ = entries(node, "dataset", allowed: []); return nil }
        guard let kindNode = node["kind"] else {
            error(node.location, "dataset.kind", "missing (one of: \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            return nil
        }
        guard let kind = choice(kindNode, "dataset.kind", "dataset kind", DatasetKind.self) else { return nil }
        let descriptor = kind.descriptor
        _ = entries(node, "dataset", allowed: ["kind"] + descriptor.keys.map(\.name))
        let start = errors.count
        var c = DatasetConfig(kind: kind)
        for key in descriptor.keys {
            let path = "dataset.\(key.name)"
            guard let valueNode = node[key.name] else {
                if let missing = key.whenMissing { error(node.location, path, missing) }
                continue
            }
            if let value = datasetValue(valueNode, path, key.type) { key.set(value, in: &c) }
        }
        guard errors.count == start else { return nil }
        c = c.resolved()
        for problem in descriptor.problems(c) {
            let written = problem.keys.first { node[$0] != nil }
            error(written.flatMap { node[$0]?.location } ?? node.location, "dataset.\(written ?? problem.keys.first ?? "")",
                  problem.message)
        }
        guard errors.count == start else { return nil }
        // Size bound: the generated splits must fit in memory.
        // Sequence datasets: sequences × steps; streams: train and validation are steps already.
        let steps = descriptor.layout == .stream ? 1 : descriptor.stepsPerSequence(c).value
        let values = ((c.train ?? 0) + (c.validation ?? 0)) * steps * descriptor.valuesPerStep(c)
        if values > Bounds.datasetValues {
            error(node.location, "dataset", "the dataset would hold \(values) values (more than \(Bounds.datasetValues)); lower train, validation or length")
            return nil
        }
        do {
            let shape = try datasets.shape(c)
            return (c, shape, kindNode.location)
        } catch {
            let at = error.line > 0 ? SourceLocation(file: error.file, line: error.line, column: error.column)
                                    : (node["path"]?.location ?? node.location)
            let message = error.line > 0 ? error.message : "\(error.file): \(error.message)"
            self.error(at, error.line > 0 ? "" : "dataset.path", message)
            return nil
        }
    }

    /// One value of a `dataset:` key, checked against the type its kind declares.
    mutating func datasetValue(_ node: ConfigNode, _ path: String, _ type: DatasetKey.ValueType) -> DatasetKey.Value? {
        switch type {
        case .integer(let r): return int(node, path, min: r.lowerBound, max: r.upperBound).map { .integer($0) }
        case .real(let r): return double(node, path, min: r.lowerBound, max: r.upperBound).map { .real($0) }
        case .boolean: return bool(node, path).map { .boolean($0) }
        case .file: return existingPath(node, path).map { .text($0) }
        case .name: return string(node, path).map { .text($0) }
        case .names: return stringList(node, path).map { .texts($0) }
        case .choice(let what, let names): return choice(node, path, what, names: names).map { .text($0) }
        case .integers(let r):
            return numberList(node, path) { $0.int($1, $2, min: r.lowerBound, max: r.upperBound) }.map { .integers($0) }
        case .reals(let r):
            return numberList(node, path) { $0.double($1, $2, min: r.lowerBound, max: r.upperBound) }.map { .reals($0) }
        }
    }

    // MARK: model

    mutating func resolveModel(_ node: ConfigNode?, at: SourceLocation) -> (layers: [LayerConfig], loss: Loss?, initFrom: String?)? {
        guard let node else { error(at, "model", "missing: every experiment needs a model: block with layers"); return nil }
        guard entries(node, "model", allowed: Self.modelKeys) != nil else { return nil }
        let start = errors.count
        var layers: [LayerConfig] = []
        if let layersNode = node["layers"] {
            if case .sequence(let items, _) = layersNode {
                if items.isEmpty { error(layersNode.location, "model.layers", "the list is empty: give at least one layer") }
                for (i, item) in items.enumerated() {
                    let lp = "model.layers.\(i)"
                    guard entries(item, lp, allowed: Self.layerKeys) != nil else { continue }
                    guard let typeNode = item["type"] else { error(item.location, "\(lp).type", "missing (rnn, dense, lstm or gru)"); continue }
                    let kind = choice(typeNode, "\(lp).type", "layer type", LayerKind.self)
                    // LSTM and GRU have fixed nonlinearities; their spec carries tanh (unused by the engine).
                    if let kind, kind.isGated {
                        if let a = item["activation"] {
                            error(a.location, "\(lp).activation",
                                  "\(kind.rawValue) layers have fixed gate nonlinearities: remove activation")
                        }
                        var units: Int? = nil
                        if let u = item["units"] { units = int(u, "\(lp).units", min: 1, max: Bounds.units) }
                        else if i != items.count - 1 { error(item.location, "\(lp).units", "missing (only the last layer may leave units out)") }
                        layers.append(LayerConfig(kind: kind, units: units, activation: .tanh))
                        continue
                    }
                    let isLast = i == items.count - 1
                    var units: Int? = nil
                    if let u = item["units"] { units = int(u, "\(lp).units", min: 1, max: Bounds.units) }
                    else if !isLast { error(item.location, "\(lp).units", "missing (only the last layer may leave units out)") }
                    let activation = item["activation"] == nil
                        ? (isLast ? nil : Activation.tanh)
                        : choice(item["activation"], "\(lp).activation", "activation", Activation.self)
                    // A last layer without activation gets the loss's (set in crossCheck).
                    if let kind { layers.append(LayerConfig(kind: kind, units: units, activation: activation ?? .identity)) }
                }
            } else {
                error(layersNode.location, "model.layers", "expected a list of layers, found \(layersNode.kindDescription)")
            }
        } else {
            error(node.location, "model.layers", "missing: a list like - {type: rnn, units: 32, activation: tanh}")
        }
        let loss = choice(node["loss"], "model.loss", "loss", Loss.self)
        var initFrom: String? = nil
        if node["init_from"] != nil { initFrom = existingPath(node["init_from"], "model.init_from") }
        guard errors.count == start else { return nil }
        return (layers, loss, initFrom)
    }

    // MARK: training

    struct Training {
        var epochs: Int, batch: Int, tauMax: Int?, tauB: Int?, optimizer: OptimizerSettings
        var clipNorm: Double?, seed: Int, shuffle: Bool, precision: Precision
    }

    mutating func resolveTraining(_ node: ConfigNode?, at: SourceLocation) -> Training? {
        let empty = ConfigNode.mapping([], at: at)
        let node = node ?? empty
        guard entries(node, "training", allowed: Self.trainingKeys) != nil else { return nil }
        let start = errors.count
        let epochs = node["epochs"] == nil ? 10 : int(node["epochs"], "training.epochs", min: 1, max: Bounds.epochs)
        let batch = node["batch"] == nil ? 32 : int(node["batch"], "training.batch", min: 1, max: Bounds.batch)
        let tauMax = horizon(node["tau_max"], "training.tau_max")
        let tauB = node["tau_b"] == nil ? nil : int(node["tau_b"], "training.tau_b", min: 1, max: Bounds.sequenceLength)
        let optimizer = resolveOptimizer(node["optimizer"])
        let clipNorm = node["clip_norm"] == nil ? nil : double(node["clip_norm"], "training.clip_norm", min: 0, open: true)
        let seed = node["seed"] == nil ? 1 : int(node["seed"], "training.seed", min: 0, max: Int(Int64.max))
        let shuffle = node["shuffle"] == nil ? true : bool(node["shuffle"], "training.shuffle")
        let precision = node["precision"] == nil ? .float32 : choice(node["precision"], "training.precision", "precision", Precision.self)
        guard errors.count == start, let epochs, let batch, let optimizer, let seed, let shuffle, let precision else { return nil }
        return Training(epochs: epochs, batch: batch, tauMax: tauMax, tauB: tauB, optimizer: optimizer,
                        clipNorm: clipNorm, seed: seed, shuffle: shuffle, precision: precision)
    }

    // MARK: diagnostics (SPEC 3.1)

    mutating func resolveDiagnostics(_ node: ConfigNode?) -> GradientDiagnostics? {
        guard let node else { return GradientDiagnostics() }
        guard entries(node, "diagnostics", allowed: Self.diagnosticsKeys) != nil else { return nil }
        let start = errors.count
        let every = node["gradient_every"] == nil ? 0 : int(node["gradient_every"], "diagnostics.gradient_every", min: 0)
        let lags = node["credit_lags"] == nil ? 0 : int(node["credit_lags"], "diagnostics.credit_lags", min: 0, max: Bounds.sequenceLength)
        let reference = horizon(node["reference_tau_max"], "diagnostics.reference_tau_max")
        guard errors.count == start, let every, let lags else { return nil }
        return GradientDiagnostics(gradientEvery: every, referenceTauMax: reference, creditLags: lags)
    }

    /// The reference horizon against the dataset and tau_max: a stream has no sequence start to go
    /// back to, and a reference shorter than the truncation it is compared with says nothing.
    mutating func checkDiagnostics(_ c: ExperimentConfig, root: ConfigNode) {
        let d = c.diagnostics
        guard !d.isOff, let node = root["diagnostics"] else { return }
        let at = node["reference_tau_max"]?.location ?? node.location
        if d.referenceTauMax == nil && c.layout == .stream {
            error(at, "diagnostics.reference_tau_max",
                  "a \(c.dataset.kind.rawValue) stream has no sequence start to go back to: give a number >= tau_max")
        }
        if let r = d.referenceTauMax, let tm = c.tauMax, r < tm {
            error(at, "diagnostics.reference_tau_max", "\(r) is below tau_max \(tm): the reference must reach at least as far as the update")
        }
    }

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
        if !c.layers[last].kind.isGated, root["model"]?["layers"].flatMap({ node -> ConfigNode? in
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
        if let required = c.loss.requiredActivation, spec.layers[last].isGated {
            error(layerAt(last, "type"), "model.layers.\(last).type",
                  "\(c.loss.rawValue) needs a \(required.rawValue) output layer; \(spec.layers[last].kind == .lstm ? "an" : "a") \(spec.layers[last].kind.rawValue) layer cannot be last (add {type: dense, activation: \(required.rawValue)} after it)")
        } else if let required = c.loss.requiredActivation, spec.layers[last].activation != required {
            error(lossAt, root["model"]?["loss"] != nil ? "model.loss" : "model.layers.\(last).activation",
                  "\(c.loss.rawValue) needs a \(required.rawValue) output layer, not \(spec.layers[last].activation.rawValue)")
        }
        if c.loss == .mse && spec.layers[last].activation == .softmax {
            error(layerAt(last, "activation"), "model.layers.\(last).activation", "softmax output is paired with cross-entropy, not mse")
        }
        if (c.loss == .crossEntropy) != (datasetLoss == .crossEntropy) {
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
        // Truncation.
        let training = root["training"]
        if c.layout == .stream && c.tauMax == nil {
            let at = training?["tau_max"]?.location ?? datasetAt
            error(at, "training.tau_max", "a \(c.dataset.kind.rawValue) stream has no sequence start to go back to: give a finite tau_max")
        }
        if let tb = c.tauB, let tm = c.tauMax, tb > tm {
            tauConflict = true
            error(training?["tau_b"]?.location ?? root.location, "training.tau_b",
                  "tau_b (\(tb)) is larger than tau_max (\(tm)): errors would not reach their own step")
        }
        // Memory of one window: stored activations of tau_max + tau_b steps.
        let steps = c.tauMax.map { $0 + max($0, c.tauB ?? $0) } ?? c.dataset.stepsPerSequence
        // (A gated layer stores its gates and cell too: about G + 1 times an rnn layer's values.)
        let units = spec.layers.reduce(0) { $0 + $1.units * ($1.isGated ? $1.kind.gates + 1 : 1) }
        let window = Double(steps) * Double(c.batch) * Double(units) * Bounds.valuesPerUnitStep
        if window > Bounds.windowValues {
            error(training?["batch"]?.location ?? root.location, "training",
                  "one window would store \(Int(window)) values (steps × batch × units); lower batch, tau_max or units")
        }
        let params = Double(spec.parameterCount)
        if params > Double(Bounds.parameters) {
            error(layersNode?.location ?? root.location, "model.layers", "the model would have \(Int(params)) parameters (more than \(Bounds.parameters))")
        }
    }
}
