import ArgumentParser
import Experiments
import Foundation

extension RNNExp {
    struct Gradcheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the BPTT gradient of the file's model with central finite differences (float64).",
            discussion: "Uses the first grid point and its first update window. Prints the worst relative error per parameter; exits 1 above \(GradientCheckRun.toleranceText).")

        @Argument(help: ArgumentHelp("Experiment file (YAML).", valueName: "file"))
        var file: String

        @Option(name: .customLong("set"), help: ArgumentHelp("Override a setting (repeatable).", valueName: "path=value"))
        var overrides: [String] = []

        func run() throws {
            BLASProcessSetup.reexecIfItHelps()
            guard let plan = try ExperimentFiles.plans([file], overrides: overrides).first else { throw ExitCode.badInput }
            let result: GradientCheckRun.Result
            do { result = try GradientCheckRun.check(plan) } catch {
                Output.error(error.description)
                throw ExitCode.badInput
            }
            let report = result.report
            Output.line("\(result.runID): first update at step \(report.step), errors injected at (\(report.previousStep), \(report.step)], window from step \(report.windowStart), float64")
            let nameWidth = max(report.tensors.map(\.name.count).max() ?? 4, 9)
            Output.line("parameter".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  worst rel. error  index   BPTT                   finite difference")
            for t in report.tensors {
                let cells = [t.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0),
                             String(format: "%.3e", t.worstError).padding(toLength: 16, withPad: " ", startingAt: 0),
                             String(t.worstIndex).padding(toLength: 6, withPad: " ", startingAt: 0),
                             String(format: "% .15e", t.analytic), String(format: "% .15e", t.numeric)]
                Output.line(cells.joined(separator: "  ") + (t.checked < t.count ? "  (\(t.checked) of \(t.count) checked)" : ""))
            }
            let worst = String(format: "%.3e", report.worstError)
            let limit = GradientCheckRun.toleranceText
            Output.line(result.passed ? "ok: worst relative error \(worst) <= \(limit)" : "FAILED: worst relative error \(worst) > \(limit)")
            if !result.passed { throw ExitCode.someRunsFailed }
        }
    }
}
