import ArgumentParser
import Experiments

extension RNNExp {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the runs the grids expand to: done, to run, or skipped (and why).")

        @OptionGroup var experiments: ExperimentFiles

        @OptionGroup var selection: GridSelectionOption

        @OptionGroup var resultsFolder: ResultsFolder

        @Option(help: ArgumentHelp("Show only slice I of N.", valueName: "I/N"))
        var shard: Shard?

        func run() throws {
            let plans = try experiments.plans(only: selection.only)
            let store = ResultsStore(root: resultsFolder.results)
            let selected = Set(Sharding.select(plans, shard: shard).map { "\($0.plan.name)/\($0.run.id)" })
            for p in plans {
                let grid = p.gridRuns.count + p.gridSkipped.count + p.gridCollapsed.count
                let donors = store.donorIndex(p.name)
                let standings = Dictionary(uniqueKeysWithValues: p.gridRuns.map { ($0.id, store.standing(p.name, $0, donors: donors)) })
                Output.line("\(p.name) (\(p.file))")
                if !p.description.isEmpty { Output.line("  \(p.description)") }
                Output.line("  grid: \(Output.count(grid, "point"))" + (p.sweptKeys.isEmpty ? "" : " over \(p.sweptKeys.joined(separator: ", "))")
                            + "; \(Output.count(p.gridRuns.count, "run")): \(Self.counts(Array(standings.values)))"
                            + "; \(p.gridSkipped.count) skipped"
                            + (p.gridCollapsed.isEmpty ? "" : ", \(p.gridCollapsed.count) collapsed (a setting their algorithm does not take, e.g. tau_max online)"))
                if !p.selection.isEmpty {
                    Output.line("  selected (\(p.selection.joined(separator: " "))): \(Output.count(p.runs.count, "run"))"
                                + (p.skipped.isEmpty ? "" : ", \(p.skipped.count) skipped") + "; summaries keep the whole grid")
                }
                for r in p.runs where selected.contains("\(p.name)/\(r.id)") {
                    Output.line("  \(r.id)  \(Self.describe(standings[r.id] ?? store.standing(p.name, r, donors: donors)))" + Self.influence(r.config))
                }
                for s in p.skipped { Output.line("  \(s.label)  skipped-invalid: \(s.reason)") }
                for s in p.collapsed { Output.line("  \(s.label)  collapsed: \(s.reason)") }
            }
        }

        /// `D done, T to train, R resume, C continue` (and `N diverged` when some did): what the
        /// grid's runs are, by what `run` does with them (to train: from scratch; resume: from a
        /// checkpoint; continue: from a finished run with fewer epochs).
        static func counts(_ standings: [ResultsStore.Standing]) -> String {
            var done = 0, diverged = 0, toTrain = 0, resume = 0, continues = 0
            for s in standings {
                switch s {
                case .finished(.done): done += 1
                case .finished: diverged += 1
                case .toRun, .configChanged, .retry: toTrain += 1
                case .resumes: resume += 1
                case .continues: continues += 1
                }
            }
            return "\(done) done, \(toTrain) to train, \(resume) resume, \(continues) continue" + (diverged > 0 ? ", \(diverged) diverged" : "")
        }

        /// `; rtrl influence N values (X MB)` for an online run (SPEC 3.3's memory), else nothing.
        static func influence(_ config: ExperimentConfig) -> String {
            guard let n = config.influenceValues else { return "" }
            return "; \(config.training.algorithm.rawValue) influence \(n) values (\(ExperimentConfig.megabytes(Double(n), config.precision)) MB)"
        }

        static func describe(_ standing: ResultsStore.Standing) -> String {
            switch standing {
            case .toRun: return "to run"
            case .finished(let s): return s.fileText.trimmingCharacters(in: .whitespacesAndNewlines)
            case .configChanged: return "to run (config changed)"
            case .retry(let s): return "to run (was \(s.word))"
            case .resumes(let epoch): return "resumes at epoch \(epoch) (from its checkpoint)"
            case .continues(let donor, let epoch):
                return "continues from \(donor) (after its epoch \(epoch))"
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check experiment files; print every error with file:line:column; exit 2 if any.")

        @OptionGroup var experiments: ExperimentFiles

        @OptionGroup var selection: GridSelectionOption

        func run() throws {
            let plans = try experiments.plans(only: selection.only)
            ExperimentFiles.warnSkipped(plans)
            for p in plans {
                Output.line("\(p.file): ok, \(Output.count(p.runs.count, "run"))" + (p.skipped.isEmpty ? "" : ", \(p.skipped.count) skipped")
                            + (p.collapsed.isEmpty ? "" : ", \(p.collapsed.count) collapsed into online runs"))
                if let largest = p.runs.max(by: { ($0.config.influenceValues ?? 0) < ($1.config.influenceValues ?? 0) }),
                   largest.config.influenceValues != nil {
                    Output.line("  largest influence: \(largest.id)" + Plan.influence(largest.config))
                }
            }
        }
    }
}
