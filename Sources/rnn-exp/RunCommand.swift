import ArgumentParser
import Experiments
import Foundation

extension RNNExp {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train every run of every grid; skip runs already done with the same settings.",
            discussion: """
                Exit status: 0 all runs done, 1 some runs failed or diverged, 2 bad input (nothing is trained); \
                130, 143 or 138 after SIGINT, SIGTERM or SIGUSR1: a clean stop, every running run checkpointed at \
                its next update, inside the epoch (it continues from there next time; a second signal quits at once).
                """)

        @OptionGroup var experiments: ExperimentFiles

        @OptionGroup var selection: GridSelectionOption

        @Option(help: "Runs trained side by side, one BLAS thread each (default: the number of cores).")
        var jobs: Int?

        @OptionGroup var resultsFolder: ResultsFolder

        @Flag(help: "Train runs again even when they are done.")
        var force = false

        @Flag(help: "Print only the end summary.")
        var quiet = false

        @Option(help: ArgumentHelp("Run only slice I of N disjoint slices of the grid (0-based), e.g. 0/4.", valueName: "I/N"))
        var shard: Shard?

        @Flag(help: "Do not write report.html at the end.")
        var noReport = false

        @Option(help: ArgumentHelp("Inside an epoch, checkpoint every running run at most this often (default 30); "
                                   + "what a kill -9 loses at most. Stops always checkpoint.", valueName: "SECONDS"))
        var checkpointInterval: Double = CheckpointSchedule.defaultInterval

        /// Tests only: how many times the last checkpoint write's duration must pass before the
        /// next checkpoint inside an epoch (0: the interval alone decides).
        @Option(help: .hidden)
        var checkpointCostFactor: Double = CheckpointSchedule.defaultCostFactor

        #if RNN_EXP_TEST_HOOKS
        /// Test builds only (`-DRNN_EXP_TEST_HOOKS`): the run with exactly this id fails at once, so
        /// the cluster test can watch a real task fail.
        @Option(help: .hidden)
        var failRun: String?
        #endif

        func run() throws {
            BLASProcessSetup.reexecIfItHelps()
            let jobs = self.jobs ?? ProcessInfo.processInfo.activeProcessorCount
            guard jobs >= 1 else {
                Output.error("error: --jobs must be at least 1")
                throw ExitCode.badInput
            }
            let plans = try experiments.plans(only: selection.only)
            ExperimentFiles.warnSkipped(plans)
            let store = ResultsStore(root: resultsFolder.results)
            do { try store.checkWritable() } catch {
                Output.error("error: --results \(resultsFolder.results): \(error.reason); nothing was run")
                throw ExitCode.badInput
            }
            guard checkpointInterval.isFinite, checkpointInterval >= 0, checkpointCostFactor.isFinite, checkpointCostFactor >= 0 else {
                Output.error("error: --checkpoint-interval must be a number of seconds, 0 or more")
                throw ExitCode.badInput
            }
            var options = Runner.Options(jobs: jobs, force: force, shard: shard,
                                         checkpoints: CheckpointSchedule(interval: checkpointInterval, costFactor: checkpointCostFactor))
            #if RNN_EXP_TEST_HOOKS
            if let victim = failRun {
                let train = options.executor
                options.executor = { run, plan, resume, onEpoch, shouldStop, checkpoint in
                    guard run.id == victim else { return train(run, plan, resume, onEpoch, shouldStop, checkpoint) }
                    return RunOutcome(status: .failed(reason: "injected failure (--fail-run)"), records: [],
                                      initialParameters: [], finalParameters: [], spec: run.config.networkSpec)
                }
            }
            #endif
            let display = ProgressDisplay(mode: ProgressDisplay.defaultMode(quiet: quiet), jobs: jobs)
            for p in plans {
                for r in p.runs { display.metricNames[plans.count > 1 ? "\(p.name)/\(r.id)" : r.id] = r.config.metric.columnName }
            }
            let runner = Runner(plans: plans, store: store, options: options, observer: display)
            let signals = SignalTrap { signal in
                let what = signal == SIGINT ? "interrupted" : signal == SIGUSR1 ? "asked to stop (USR1)" : "terminated"
                Output.error("\n\(what): each run checkpoints at its next update, then stops (again to quit now)")
                runner.requestStop()
            }
            let report = runner.run()
            let caught = signals.caught
            signals.release()
            printSummary(report, plans: plans, store: store, interrupted: caught != nil)
            if !noReport && caught == nil && shard == nil {
                for p in plans { writeReport(store.experimentDirectory(p.name), name: p.name) }
            }
            if let s = caught { throw ExitCode(128 + s) }
            if !report.allDone { throw ExitCode.someRunsFailed }
        }

        func printSummary(_ r: SweepResult, plans: [ExperimentPlan], store: ResultsStore, interrupted: Bool) {
            var line = "\(r.trained) trained, \(r.alreadyDone) already done"
            if r.busyElsewhere > 0 { line += ", \(r.busyElsewhere) being run by another process" }
            if !r.interrupted.isEmpty { line += ", \(r.interrupted.count) interrupted" }
            Output.error(line + ".")
            if !r.problems.isEmpty {
                Output.error("runs that did not finish cleanly:")
                for p in r.problems.sorted(by: { $0.id < $1.id }) {
                    Output.error("  \(p.id)  \(p.status.fileText.trimmingCharacters(in: .whitespacesAndNewlines))")
                }
            }
            if interrupted || !r.interrupted.isEmpty {
                Output.error(Self.stopMessage(interrupted: r.interrupted, command: CommandLine.arguments))
            }
            for w in r.warnings { Output.error("warning: \(w)") }
            for e in r.writeErrors { Output.error("error: \(e)") }
            for p in plans { Output.error("results: \(store.experimentDirectory(p.name))/summary.csv") }
        }

        /// What a stopped sweep leaves and how to go on: the interrupted runs, then the command.
        static func stopMessage(interrupted: [String], command: [String]) -> String {
            var lines: [String] = []
            if interrupted.isEmpty {
                lines.append("finished runs are kept; to train the runs not started, run the same command again:")
            } else {
                let one = interrupted.count == 1
                lines.append("finished runs are kept; \(Output.count(interrupted.count, "interrupted run")) will continue from "
                             + (one ? "its checkpoint" : "their checkpoints") + " (\(interrupted.sorted().joined(separator: ", "))), "
                             + "and the runs not started will train, when you run the same command again:")
            }
            lines.append("  " + command.map(Self.shellQuoted).joined(separator: " "))
            return lines.joined(separator: "\n")
        }

        /// A word as a POSIX shell reads it back: bare when safe, else in single quotes.
        static func shellQuoted(_ word: String) -> String {
            let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
            if !word.isEmpty && word.allSatisfy({ safe.contains($0) }) { return word }
            return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }

        func writeReport(_ directory: String, name: String) {
            do {
                Output.error("report: \(try HTMLReport(directory: directory).write())")
            } catch {
                Output.error("warning: no report for \(name): \(error)")
            }
        }
    }
}
