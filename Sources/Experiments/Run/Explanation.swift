import Foundation
import RNNCore
import RNNDatasets

/// `rnn-exp explain`: the space × time grid of one update for a file's first grid point (SPEC 7),
/// on its first training batch in file order, with the dataset's dependency lags against the
/// window (SPEC 3.2).
public struct Explanation: Sendable {
    public let runID: String
    public let grid: UpdateGrid
    public let layers: [LayerSpec]
    /// `tau_b` and `tau_max` as the update used them (`full` resolved to the batch length).
    public let tauB: Int
    public let tauMax: Int
    /// Random truncation's continue probability `c` (nil: a fixed window).
    public var randomContinue: Double? = nil
    /// Adaptive tau_max: its settings and the window chosen from the initial weights' credit
    /// profile on this batch (epoch 1's choice, before any training; nil: not adaptive).
    public var adaptive: (settings: AdaptiveTruncation, choice: AdaptiveChoice)? = nil
    /// The rule in words: `BPTT(tau_b 5, tau_max 10)`, or `random truncation (c = 0.9; this
    /// window was drawn for the first batch of epoch 1)`, or adaptive tau_max's choice.
    public var ruleText: String {
        if let c = randomContinue { return "random truncation (c = \(NumberText.format(c)); windows drawn for the first batch of epoch 1)" }
        if let (a, choice) = adaptive {
            return "adaptive tau_max (delta \(NumberText.format(a.delta)), every \(a.every), max_lag \(a.maxLag)): "
                + "K = \(choice.k) with estimated relative bias rho = \(String(format: "%.3f", choice.rho)), measured on this batch with the "
                + "initial weights (re-chosen every \(a.every == 1 ? "" : "\(a.every)th ")epoch as training goes): BPTT(tau_b \(tauB), tau_max \(tauMax))"
        }
        return "BPTT(tau_b \(tauB), tau_max \(tauMax))"
    }
    /// Steps of the batch's longest lane.
    public let steps: Int
    public let lags: DependencyLags?

    /// For each dependency lag the dataset declares (ranges listed by their ends): whether some,
    /// and whether all, of the update's injected errors reach back that far.
    public var dependencyReach: [(lag: Int, some: Bool, all: Bool)] {
        guard let lags else { return [] }
        let ends = lags.ranges.flatMap { [$0.lowerBound, $0.upperBound] }
        return Array(Set(ends)).sorted().map { lag in
            let r = UpdateGrid.reach(lag: lag, tauB: tauB, tauMax: tauMax)
            return (lag, r.some, r.all)
        }
    }

    /// `rnn-exp explain`: without `step`, the first update with a target whose window truncation
    /// cuts (the report's picture; the first update of a stream is never cut), else the first
    /// update with a target (SPEC 7).
    public static func explain(_ plan: ExperimentPlan, step: Int? = nil) throws(RunSetup.Failure) -> Explanation {
        guard let run = plan.runs.first else { throw RunSetup.Failure(description: "\(plan.file): the grid has no valid point") }
        return try explain(run, in: plan, step: step, showingTruncation: true)
    }

    /// The grid of one run of the plan. `showingTruncation`: with no `step`, prefer the first
    /// update with a target whose window is cut by tau_max (the report's pictures), else the first.
    public static func explain(_ run: PlannedRun, in plan: ExperimentPlan, step: Int? = nil,
                               showingTruncation: Bool = false) throws(RunSetup.Failure) -> Explanation {
        var config = run.config
        config.precision = .float64
        let setup = try RunSetup.prepare(config, datasets: plan.datasets)
        let batches: [SequenceBatch<Double>] = setup.trainingBatches(config, epoch: 0, shuffle: false)
        guard let batch = batches.first else { throw RunSetup.Failure(description: "\(plan.file): the training split is empty") }
        // Adaptive tau_max: the window the initial weights' credit profile on this batch chooses.
        var adaptive: (settings: AdaptiveTruncation, choice: AdaptiveChoice)? = nil
        if let settings = config.truncation.adaptive {
            let trainer = TruncatedBPTT<Double>(spec: setup.spec, parameters: setup.initialParameters, truncation: config.truncation,
                                                optimizer: config.optimizer)
            trainer.chooseAdaptiveWindow(batch, settings)
            let choice = trainer.adaptiveChoice ?? AdaptiveChoice(k: settings.maxLag, rho: 0)
            adaptive = (settings, choice)
            config.training.adaptiveTruncation = false
            (config.training.tauB, config.training.tauMax) = settings.rule.window(choice.k)
        }
        let hasTarget = (0..<batch.steps).map { n in (0..<batch.lanes).contains { batch.mask[n * batch.lanes + $0] != 0 } }
        var step = step
        if step == nil && showingTruncation {
            let (_, tauMax) = config.truncation.resolved(steps: batch.steps)
            var previous = 0
            for n in UpdateGrid.updateSteps(length: batch.steps, truncation: config.truncation) {
                if n > tauMax && hasTarget[previous..<n].contains(true) { step = n; break }
                previous = n
            }
        }
        guard let grid = UpdateGrid(spec: setup.spec, truncation: config.truncation, hasTarget: hasTarget, step: step) else {
            if let step {
                let steps = UpdateGrid.updateSteps(length: batch.steps, truncation: config.truncation)
                throw RunSetup.Failure(description: "no update happens at step \(step): updates are at steps "
                                       + steps.prefix(12).map(String.init).joined(separator: ", ") + (steps.count > 12 ? ", …" : ""))
            }
            throw RunSetup.Failure(description: "\(plan.file): no update of the first batch has a target")
        }
        let (tauB, tauMax) = config.truncation.resolved(steps: batch.steps)
        var explanation = Explanation(runID: run.id, grid: grid, layers: setup.spec.layers, tauB: tauB, tauMax: tauMax,
                                      steps: batch.steps, lags: config.dataset.dependencyLags)
        explanation.randomContinue = config.truncation.random?.continueProbability
        explanation.adaptive = adaptive
        return explanation
    }

    /// The grid as `experiment.json` keeps it.
    public var explainGrid: ExplainGrid {
        ExplainGrid(updateStep: grid.updateStep, previousStep: grid.previousStep, windowStart: grid.windowStart,
                    tauB: tauB, tauMax: tauMax, injected: grid.injected,
                    layers: layers.enumerated().map { i, l in ExplainGrid.Layer(index: i, type: l.kind.rawValue, reached: grid.reached[i]) },
                    dependencies: dependencyReach.map { ExplainGrid.Dependency(lag: $0.lag, some: $0.some, all: $0.all) },
                    randomContinue: randomContinue, adaptiveDelta: adaptive?.settings.delta)
    }

    /// The SPEC 7 JSON object, plus the dependency lags: keys in a fixed order.
    public var json: String {
        let g = explainGrid
        func list(_ xs: [Int]) -> String { "[" + xs.map(String.init).joined(separator: ", ") + "]" }
        let layerItems = g.layers.map { "{\"index\": \($0.index), \"type\": \"\($0.type)\", \"reached\": \(list($0.reached))}" }
        let dependencies = g.dependencies.map { "{\"lag\": \($0.lag), \"some\": \($0.some), \"all\": \($0.all)}" }
        return "{\"update_step\": \(g.updateStep), \"previous_step\": \(g.previousStep), "
            + "\"window_start\": \(g.windowStart), \"tau_b\": \(g.tauB), \"tau_max\": \(g.tauMax), "
            + "\"injected\": \(list(g.injected)), \"layers\": [" + layerItems.joined(separator: ", ") + "], "
            + "\"dependencies\": [" + dependencies.joined(separator: ", ") + "]}"
    }
}

extension ExperimentPlan {
    /// At most this many distinct (tau_b, tau_max) get an explain grid in `experiment.json`.
    public static let maxExplainGrids = 24

    /// The explain grid of the first run of each distinct (tau_b, tau_max), for `experiment.json`
    /// (the report's pictures). Builds the dataset's first batch of each; points whose grid cannot
    /// be drawn are left out.
    public func explainGrids() -> [ExplainGrid] {
        var seen = Set<String>(), out: [ExplainGrid] = []
        // Online runs have no window to draw: their updates use the carried influence (SPEC 3.3).
        for run in gridRuns where run.config.training.algorithm == .bptt {
            let key = "\(run.config.tauBText)/\(run.config.tauMaxText)"
            guard seen.insert(key).inserted, seen.count <= Self.maxExplainGrids else { continue }
            if let e = try? Explanation.explain(run, in: self, showingTruncation: true) { out.append(e.explainGrid) }
        }
        return out
    }
}
