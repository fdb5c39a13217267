import ArgumentParser
import Experiments
import Foundation

extension RNNExp {
    struct Gradcheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the BPTT gradient of the file's model with central finite differences (float64).",
            discussion: """
                Uses the first grid point, its first batch and one update: --step N, or by default the \
                first update whose window truncation cuts (else the first). A parameter tensor passes when every \
                checked entry has \(GradientCheckRun.tolerance.text) (max|fd|: the tensor's largest \
                difference quotient; as torch.autograd.gradcheck's atol + rtol, with the absolute part \
                relative to the tensor's scale, floored for tensors whose exact gradient is 0). Prints per tensor the worst ratio of |g - fd| to that \
                bound (pass: <= 1), max|fd| and the worst relative error; exits 1 when a ratio exceeds 1.
                """)

        @OptionGroup var experiment: SingleExperimentFile

        @Option(help: ArgumentHelp("The update at this step of the first batch (default: the first update whose window truncation cuts, else the first).", valueName: "n"))
        var step: Int?

        func run() throws {
            BLASProcessSetup.reexecIfItHelps()
            let plan = try experiment.plan()
            let result: GradientCheckRun.Result
            do { result = try GradientCheckRun.check(plan, step: step) } catch {
                Output.error(error.description)
                throw ExitCode.badInput
            }
            let report = result.report
            Output.line("\(result.runID): update at step \(report.step), errors injected at (\(report.previousStep), \(report.step)], window from step \(report.windowStart), float64")
            let nameWidth = max(report.tensors.map(\.name.count).max() ?? 4, 9)
            Output.line("parameter".padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                        + "  worst ratio  index   BPTT                    finite difference       max|fd|    worst rel. error")
            for t in report.tensors {
                let cells = [t.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0),
                             String(format: "%.3e", t.worstRatio).padding(toLength: 11, withPad: " ", startingAt: 0),
                             String(t.worstRatioIndex).padding(toLength: 6, withPad: " ", startingAt: 0),
                             String(format: "% .15e", t.ratioAnalytic), String(format: "% .15e", t.ratioNumeric),
                             String(format: "%.3e", t.scale), String(format: "%.3e", t.worstError)]
                Output.line(cells.joined(separator: "  ") + (t.checked < t.count ? "  (\(t.checked) of \(t.count) checked)" : ""))
            }
            let ratio = String(format: "%.3e", report.worstRatio), relative = String(format: "%.3e", report.worstError)
            let rule = GradientCheckRun.tolerance.text
            Output.line(result.passed ? "ok: worst relative error \(relative); worst ratio \(ratio) <= 1 (\(rule), per tensor)"
                                      : "FAILED: worst ratio \(ratio) > 1 (\(rule), per tensor); worst relative error \(relative)")
            if !result.passed { throw ExitCode.someRunsFailed }
        }
    }
}
