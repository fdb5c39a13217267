import ArgumentParser
import Experiments
import RNNCore

extension RNNExp {
    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the space × time grid of one update: injected errors, cells reached, where truncation cuts.",
            discussion: """
                Uses the file's first grid point and its first training batch. Rows are layers from the \
                top (the output) down, columns are steps: E an injected error (the step has a target), \
                o a cell some injected error reaches, . a cell none reaches; | marks the truncation \
                boundary a = max(1, n - tau_max + 1). The dataset's dependency lags (where it knows them) \
                are checked against the window: lag L gets gradient from some errors iff tau_max >= L + 1, \
                from all iff tau_max - tau_b >= L.
                """)

        @OptionGroup var experiment: SingleExperimentFile

        @Option(help: ArgumentHelp("The update at this step (default: the first update with a target whose window truncation cuts, else the first with a target).", valueName: "n"))
        var step: Int?

        @Flag(help: "Print one JSON object instead of the picture.")
        var json = false

        func run() throws {
            let plan = try experiment.plan()
            if let run = plan.runs.first, case .online(let algorithm, let tauB, _, _) = run.config.algorithm {
                // No window to draw: an online update sums q_mᵀ M_m over its steps (SPEC 3.3).
                let name = algorithm.rawValue
                if json {
                    Output.line("{\"algorithm\": \"\(name)\", \"tau_b\": \(tauB), \"window_start\": null}")
                } else {
                    Output.line("\(run.id): \(name), an online algorithm: an update every \(tauB) step\(tauB == 1 ? "" : "s") and at the batch's last step")
                    Output.line("Nothing runs backward in time and there is no window: each update adds, at every step m with a")
                    Output.line("target, the step's error through the readout times the carried influence ∂h_m/∂W, which reaches")
                    Output.line("back to the sequence start (streams: the epoch start). " + Self.approximation(algorithm))
                }
                return
            }
            let e: Explanation
            do { e = try Explanation.explain(plan, step: step) } catch {
                Output.error("error: \(error.description)")
                throw ExitCode.badInput
            }
            if json {
                Output.line(e.json)
                return
            }
            let g = e.grid
            Output.line("\(e.runID): update at step \(g.updateStep) of \(e.steps), \(e.ruleText)")
            Output.line("errors injected at (\(g.previousStep), \(g.updateStep)]: "
                        + (g.injected.isEmpty ? "none" : g.injected.map(String.init).joined(separator: ", "))
                        + "; no gradient below step \(g.windowStart)")
            for line in Self.picture(e) { Output.line(line) }
            if let lags = e.lags {
                Output.line("dependency lags of the dataset: \(lags)")
                for d in e.dependencyReach {
                    let verdict = d.all ? "every injected error reaches it" : d.some ? "some injected errors reach it" : "no injected error reaches it"
                    Output.line("  lag \(d.lag): \(verdict)")
                }
            } else {
                Output.line("the dataset declares no dependency lags")
            }
        }

        /// Steps the picture shows at most (the last ones up to the update's step n).
        static let pictureSteps = 80
        /// Steps shown before the window start, when the picture has room.
        static let stepsBeforeWindow = 3

        /// Rows from the top layer down, steps as columns (at most the last `pictureSteps` steps up to n).
        static func picture(_ e: Explanation) -> [String] {
            let g = e.grid
            let first = max(1, min(g.windowStart - stepsBeforeWindow, g.updateStep - (pictureSteps - 1)))
            let steps = Array(first...g.updateStep)
            let labels = e.layers.enumerated().map { "layer \($0.offset) \($0.element.kind.rawValue)" }
            let width = max(labels.map(\.count).max() ?? 0, 5)
            func pad(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
            func row(_ cell: (Int) -> String) -> String {
                steps.map { ($0 == g.windowStart ? "|" : " ") + cell($0) }.joined()
            }
            var out: [String] = []
            out.append(pad("step") + " " + row { $0 % 10 == 0 ? String(($0 / 10) % 10) : " " })
            out.append(pad("") + " " + row { String($0 % 10) })
            let injected = Set(g.injected)
            for l in stride(from: e.layers.count - 1, through: 0, by: -1) {
                let reached = Set(g.reached[l])
                out.append(pad(labels[l]) + " " + row { m in
                    l == e.layers.count - 1 && injected.contains(m) ? "E" : reached.contains(m) ? "o" : "."
                })
            }
            out.append(pad("input") + " " + row { _ in " " })
            return out
        }

        /// What the algorithm's influence is, in one sentence.
        static func approximation(_ algorithm: OnlineAlgorithm) -> String {
            switch algorithm {
            case .rtrl: return "rtrl carries it exactly (with the weights each step was computed with)."
            case .snap1: return "snap1 keeps only each unit's own parameter row of it (SnAp-1)."
            case .uoro: return "uoro keeps an unbiased rank-one estimate of it, driven by ±1 noise."
            case .rflo: return "rflo replaces the recurrent Jacobian by a decay λ (a local eligibility trace)."
            case .kfRTRL: return "kf-rtrl keeps an unbiased Kronecker-factored estimate of each layer's block of it (A ⊗ u), driven by ±1 noise."
            }
        }
    }
}