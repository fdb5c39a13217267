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
        /// Every tensor within `tolerance`.
        public var passed: Bool { report.passed }
    }

    /// - Parameter step: the update at this step of the first batch; nil for the first update
    ///   whose window truncation cuts, else the first update (as `explain` and the report).
    public static func check(_ plan: ExperimentPlan, step: Int? = nil) throws(RunSetup.Failure) -> Result {
        guard let run = plan.runs.first else { throw RunSetup.Failure(description: "\(plan.file): the grid has no valid point") }
        var config = run.config
        config.precision = .float64
        let algorithm = config.algorithm
        guard algorithm.exactGradient else {
            throw RunSetup.Failure(description: "\(plan.file): the training algorithm approximates the gradient; gradcheck applies to exact ones (bptt, rtrl)")
        }
        let setup = try RunSetup.prepare(config, datasets: plan.datasets)
        let batches: [SequenceBatch<Double>] = setup.trainingBatches(config, epoch: 0, shuffle: false)
        guard let batch = batches.first,
              let report = GradientCheck.run(spec: setup.spec, parameters: setup.initialParameters, batch: batch,
                                             algorithm: algorithm, step: step, tolerance: tolerance) else {
            throw RunSetup.Failure(description: step.map { "\(plan.file): the first batch has no update with a target at step \($0)" }
                                   ?? "\(plan.file): the first batch has no update with a target")
        }
        return Result(runID: run.id, report: report)
    }
}
