import RNNCore
import RNNDatasets

/// `rnn-exp gradcheck`: one update window of the first grid point's first batch in float64,
/// against central finite differences (`GradientCheck`).
public enum GradientCheckRun {
    /// The pass criterion (SPEC 7): per tensor, `|g - fd| <= atol · max|fd| + rtol · |fd|`.
    public static let tolerance = GradientCheck.Tolerance.standard

    public struct Result: Sendable {
        public let runID: String
        public let report: GradientCheck.Report
        /// The algorithm whose gradient was checked (`bptt`, `rtrl`).
        public let algorithm: String
        /// Every tensor within `tolerance`.
        public var passed: Bool { report.passed }
    }

    /// Why gradcheck does not check `name`'s gradient.
    static func refusal(_ name: String) -> String {
        "\(name) approximates the gradient; gradcheck applies to bptt and rtrl, whose updates follow the exact gradient of their window"
    }

    /// Why gradcheck does not check the algorithm an override `--set training.algorithm=NAME`
    /// names (nil when it is bptt, rtrl or no algorithm): said before the file is planned, whose
    /// other settings (a tau_max) may suit only the exact algorithms.
    public static func refusal(overrides: [String]) -> String? {
        for o in overrides.reversed() where o.hasPrefix("training.algorithm=") {
            let text = o.dropFirst("training.algorithm=".count).trimmingCharacters(in: .whitespaces)
            guard let name = AlgorithmName(rawValue: text), let online = name.online else { return nil }
            return Algorithm.online(online, tauB: 1, rfloDecay: 0).exactGradient ? nil : "--set \(o):1:1: " + refusal(text)
        }
        return nil
    }

    /// - Parameters:
    ///   - step: the update at this step of the first batch; nil for the default update
    ///     (`GradientCheck.UpdateChoice`: the first whose window truncation cuts and where every
    ///     tensor's gradient is nonzero).
    ///   - allEntries: difference every entry; by default a sample per tensor chosen from the
    ///     run's seed (`GradientCheck.EntrySelection.sample(seed:)`).
    public static func check(_ plan: ExperimentPlan, step: Int? = nil, allEntries: Bool = false) throws(RunSetup.Failure) -> Result {
        guard let run = plan.runs.first else { throw RunSetup.Failure(description: "\(plan.file): the grid has no valid point") }
        var config = run.config
        config.precision = .float64
        let algorithm = config.algorithm
        guard algorithm.exactGradient else { throw RunSetup.Failure(description: "\(plan.file): " + refusal(algorithm.name)) }
        let setup = try RunSetup.prepare(config, datasets: plan.datasets)
        let batches: [SequenceBatch<Double>] = setup.trainingBatches(config, epoch: 0, shuffle: false)
        guard let batch = batches.first,
              let report = GradientCheck.run(spec: setup.spec, parameters: setup.initialParameters, batch: batch,
                                             algorithm: algorithm, step: step,
                                             entries: allEntries ? .all : .sample(seed: UInt64(config.seed)),
                                             tolerance: tolerance) else {
            throw RunSetup.Failure(description: step.map { "\(plan.file): the first batch has no update with a target at step \($0)" }
                                   ?? "\(plan.file): the first batch has no update with a target")
        }
        return Result(runID: run.id, report: report, algorithm: algorithm.name)
    }
}
