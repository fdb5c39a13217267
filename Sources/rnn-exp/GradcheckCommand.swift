import ArgumentParser
import Experiments
import Foundation

extension RNNExp {
    struct Gradcheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the gradient of one update of the file's model with central finite differences (float64).",
            discussion: """
                Uses the first grid point, its first batch and one update of its algorithm (bptt, or rtrl \
                whose updates follow the exact gradient of their window): --step N, or by default the first \
                update whose window truncation cuts and where every tensor's gradient is nonzero (else the \
                first with every gradient nonzero, else the first). Each tensor is checked on a sample of \
                at most 64 entries chosen from the run's seed (always its 8 largest |g| and up to 4 entries \
                with g = 0); --all-entries checks every entry. A parameter tensor passes when every \
                checked entry has \(GradientCheckRun.tolerance.text) (max|fd|: the tensor's largest \
                difference quotient; as torch.autograd.gradcheck's atol + rtol, with the absolute part \
                relative to the tensor's scale, floored for tensors whose exact gradient is 0). Prints per tensor \
                how many entries were checked, the worst ratio of |g - fd| to that bound (pass: <= 1), max|fd| \
                and the worst relative error; exits 1 when a ratio exceeds 1.
                """)

        @OptionGroup var experiment: SingleExperimentFile

        @Option(help: ArgumentHelp("The update at this step of the first batch (default: the first update whose window truncation cuts, else the first).", valueName: "n"))
        var step: Int?

        @Flag(help: "Difference every entry of every tensor (default: a sample of at most 64 per tensor).")
        var allEntries = false

        func run() throws {
            if let refusal = GradientCheckRun.refusal(overrides: experiment.settings.overrides) {
                Output.error(refusal)
                throw ExitCode.badInput
            }
            BLASProcessSetup.reexecIfItHelps()
            let plan = try experiment.plan()
            let result: GradientCheckRun.Result
            do { result = try GradientCheckRun.check(plan, step: step, allEntries: allEntries) } catch {
                Output.error(error.description)
                throw ExitCode.badInput
            }
            let report = result.report
            Output.line("\(result.runID): update at step \(report.step), errors injected at (\(report.previousStep), \(report.step)], window from step \(report.windowStart), float64")
            let nameWidth = max(report.tensors.map(\.name.count).max() ?? 4, 9)
            let checkedText = report.tensors.map { "\($0.checked)/\($0.count)" }
            let checkedWidth = max(checkedText.map(\.count).max() ?? 7, 7)
            func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
            Output.line(pad("parameter", nameWidth) + "  " + pad("checked", checkedWidth)
                        + "  worst ratio  index   " + pad(result.algorithm.uppercased(), 22)
                        + "  finite difference       max|fd|    worst rel. error")
            for (t, checked) in zip(report.tensors, checkedText) {
                let cells = [pad(t.name, nameWidth), pad(checked, checkedWidth),
                             pad(String(format: "%.3e", t.worstRatio), 11),
                             pad(String(t.worstRatioIndex), 6),
                             String(format: "% .15e", t.ratioAnalytic), String(format: "% .15e", t.ratioNumeric),
                             String(format: "%.3e", t.scale), String(format: "%.3e", t.worstError)]
                Output.line(cells.joined(separator: "  "))
            }
            let total = report.tensors.reduce(0) { $0 + $1.checked }, all = report.tensors.reduce(0) { $0 + $1.count }
            if total < all {
                Output.line("\(total) of \(all) entries checked (a sample per tensor from the run's seed; --all-entries for every entry)")
            }
            let ratio = String(format: "%.3e", report.worstRatio), relative = String(format: "%.3e", report.worstError)
            let rule = GradientCheckRun.tolerance.text
            Output.line(result.passed ? "ok: worst relative error \(relative); worst ratio \(ratio) <= 1 (\(rule), per tensor)"
                                      : "FAILED: worst ratio \(ratio) > 1 (\(rule), per tensor); worst relative error \(relative)")
            if !result.passed { throw ExitCode.someRunsFailed }
        }
    }
}
