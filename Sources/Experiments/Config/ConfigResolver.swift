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
    static let layerKeys = ["type", "units", "activation"] + lruKeys
    /// The keys of an lru layer beyond type and units (SPEC 2).
    static let lruKeys = ["state", "r_min", "r_max", "max_phase"]
    static let optimizerKeys = ["name"] + OptimizerParameterKey.allCases.map(\.rawValue)

    /// Upper bounds that keep a typo from allocating the machine away.
    enum Bounds {
        /// Characters of the experiment's name (a folder name).
        static let nameLength = 100
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
        /// Influence values an online algorithm may carry over all lanes (SPEC 3.3, `rtrl`: `B · n · P`
        /// per layer plus the cross blocks): 2^28, 1 GiB in float32.
        static let influenceValues = 268_435_456.0
    }

    init(file: String, cache: DatasetCatalog) {
        self.file = file
        self.datasets = cache
    }

    /// `a sine`, `an echo`: the indefinite article a word takes (by its first letter).
    static func withArticle(_ word: String) -> String {
        ("aeiou".contains(word.first?.lowercased().first ?? "x") ? "an " : "a ") + word
    }

    mutating func error(_ at: SourceLocation, _ path: String, _ message: String) {
        errors.append(ConfigError(at, path, message))
    }

    // MARK: The document

    mutating func resolve(_ root: ConfigNode) -> ExperimentConfig? {
        let start = errors.count
        _ = entries(root, "", allowed: Self.topKeys)
        let fileName = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        var name = fileName
        if let n = root["name"], let s = string(n, "name") {
            if s.isEmpty || s.contains("/") || s.hasPrefix(".") || s.count > Bounds.nameLength {
                error(n.location, "name", "must be a plain folder name (no '/', not starting with '.'), found '\(s)'")
            } else {
                name = s
            }
        }
        let description = root["description"].flatMap { string($0, "description") } ?? ""

        let dataset = resolveDataset(root["dataset"], at: root.location)
        var model: ModelSettings? = nil
        if let node = root["model"] { model = resolveSection(node, "model", ModelSettings.keys) }
        else { error(root.location, "model", "missing: every experiment needs a model: block with layers") }
        let training = resolveSection(root["training"] ?? .mapping([], at: root.location), "training", TrainingSettings.keys)
        var diagnostics: GradientDiagnostics? = GradientDiagnostics()
        if let node = root["diagnostics"] { diagnostics = resolveSection(node, "diagnostics", GradientDiagnostics.keys) }
        guard errors.count == start, let dataset, let model, let training, let diagnostics else {
            // Still check the algorithm against the layers when the training section failed on
            // another key (an lstm + rflo file with rflo_decay 1.5 has both errors).
            if training == nil, let dataset, let model { checkAlgorithm(root, dataset: dataset, model: model) }
            return nil
        }

        var config = ExperimentConfig(
            name: name, description: description, file: file, dataset: dataset.config, layers: model.layers,
            loss: model.loss ?? dataset.shape.loss, initFrom: model.initFrom, training: training,
            inputSize: dataset.shape.inputs, outputSize: dataset.shape.outputs, metric: dataset.shape.metric,
            layout: dataset.shape.layout, diagnostics: diagnostics)
        crossCheck(&config, root: root, datasetAt: dataset.kindAt, datasetLoss: dataset.shape.loss)
        checkDiagnostics(config, root: root)
        return errors.count == start ? config : nil
    }

    /// The online algorithm that `training.algorithm` names against the model's layers
    /// (`Algorithm.problem(with:)`), for a document whose other training keys are in error.
    mutating func checkAlgorithm(_ root: ConfigNode, dataset: (config: DatasetConfig, shape: DatasetShape, kindAt: SourceLocation),
                                 model: ModelSettings) {
        guard let node = root["training"]?["algorithm"], let online = node.text.flatMap(AlgorithmName.init(rawValue:))?.online else { return }
        var training = TrainingSettings()
        training.algorithm = AlgorithmName(rawValue: online.rawValue) ?? .bptt
        let config = ExperimentConfig(
            name: "", description: "", file: file, dataset: dataset.config, layers: model.layers,
            loss: model.loss ?? dataset.shape.loss, initFrom: model.initFrom, training: training,
            inputSize: dataset.shape.inputs, outputSize: dataset.shape.outputs, metric: dataset.shape.metric,
            layout: dataset.shape.layout, diagnostics: GradientDiagnostics())
        if let problem = config.algorithm.problem(with: config.networkSpec) { error(node.location, "training.algorithm", problem) }
    }

    /// Reads one section from its key table: unknown keys (with a suggestion), missing required
    /// keys, then every key in table order (a key left out keeps its default). Nil on any problem.
    mutating func resolveSection<S: SectionSettings>(_ node: ConfigNode, _ section: String, _ keys: [SectionKey<S>]) -> S? {
        guard entries(node, section, allowed: keys.map(\.name)) != nil else { return nil }
        let start = errors.count
        var settings = S()
        for key in keys {
            let path = "\(section).\(key.name)"
            if node[key.name] == nil, let missing = key.whenMissing { error(node.location, path, missing) }
            key.read(&self, node[key.name], path, &settings)
        }
        return errors.count == start ? settings : nil
    }
}
