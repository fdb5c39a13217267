import ArgumentParser
import Experiments
import Foundation

extension RNNExp {
    struct Slurm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an sbatch job array that runs the grid on a Slurm cluster, plus a summary job.",
            discussion: """
                Task i of the array runs `rnn-exp run FILE... --shard i/N --jobs C` and exits non-zero \
                when a run fails, so Slurm reports it FAILED. Before its time limit (--grace seconds) a \
                task checkpoints its running runs and requeues itself, and continues where it stopped. \
                A job that depends on the array (afterany) regenerates summary.csv and metrics.csv. \
                Submitting the scripts again runs only what is missing. The results folder must be on \
                a filesystem all nodes share.
                """)

        @OptionGroup var experiments: ExperimentFiles

        @OptionGroup var selection: GridSelectionOption

        @Option(help: ArgumentHelp("Results folder (shared by the nodes).", valueName: "dir"))
        var results: String = "results"

        @Option(help: "Array tasks N: the grid is cut into N slices balanced by expected cost (default: runs, at most \(SlurmScript.defaultMaxTasks)).")
        var tasks: Int?

        @Option(help: "At most M tasks at once (--array=0-(N-1)%M).")
        var parallel: Int?

        @Option(help: ArgumentHelp("Time limit of each task.", valueName: "HH:MM:SS"))
        var time: String?

        @Option(help: "CPUs per task; also the runs each task trains side by side (--jobs).")
        var cpusPerTask: Int = 1

        @Option(help: "Slurm partition.")
        var partition: String?

        @Option(help: ArgumentHelp("Folder for the scripts and logs/.", valueName: "dir"))
        var output: String = "slurm"

        @Option(name: .customLong("sbatch-arg"), help: ArgumentHelp("An extra #SBATCH line, e.g. --sbatch-arg=--account=abc (repeatable).", valueName: "arg"))
        var sbatchArguments: [String] = []

        @Option(help: ArgumentHelp("Seconds before the time limit at which a task checkpoints its runs and requeues itself (Slurm --signal=B:USR1@SECONDS).", valueName: "seconds"))
        var grace: Int = SlurmScript.defaultGrace

        @Flag(help: "Submit both jobs with sbatch and print their ids (never waits for them).")
        var submit = false

        func run() throws {
            let plans = try experiments.plans(only: selection.only)
            ExperimentFiles.warnSkipped(plans)
            let runs = plans.reduce(0) { $0 + $1.runs.count }
            let tasks = self.tasks ?? min(runs, SlurmScript.defaultMaxTasks)
            guard tasks >= 1, cpusPerTask >= 1, (parallel ?? 1) >= 1 else {
                Output.error("error: --tasks, --parallel and --cpus-per-task must be at least 1")
                throw ExitCode.badInput
            }
            guard grace >= 1 else {
                Output.error("error: --grace must be at least 1 second")
                throw ExitCode.badInput
            }
            if let t = time, !SlurmScript.isTimeLimit(t) {
                Output.error("error: --time \(t): expected a Slurm time such as 30:00, 2:00:00 or 1-12:00:00")
                throw ExitCode.badInput
            }
            let script = SlurmScript(files: experiments.files, overrides: experiments.overrides, only: selection.only, results: results, tasks: tasks,
                                     parallel: parallel, time: time, cpusPerTask: cpusPerTask, partition: partition,
                                     output: output, extraArguments: sbatchArguments, grace: grace, binary: Self.executablePath,
                                     workingDirectory: FileManager.default.currentDirectoryPath,
                                     name: plans.map(\.name).joined(separator: "+"))
            do { try script.write() } catch {
                Output.error("error: \(error)")
                throw ExitCode.badInput
            }
            Output.line("wrote \(script.arrayPath) (\(Output.count(runs, "run")) in \(Output.count(tasks, "array task")))")
            Output.line("wrote \(script.summaryPath) (regenerates the summaries after every task)")
            guard submit else {
                Output.line("submit with:\n  \(script.submitCommands)")
                return
            }
            guard let array = Self.sbatch([script.arrayPath]),
                  let summary = Self.sbatch(["--dependency=afterany:\(array)", script.summaryPath]) else {
                throw ExitCode.someRunsFailed
            }
            Output.line("submitted array job \(array) and summary job \(summary)")
        }

        /// The path of the running executable (what the cluster's nodes will run).
        static var executablePath: String {
            #if os(Linux)
            if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
            #endif
            return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        }

        /// Runs `sbatch --parsable ARGS` and returns the job id. The environment it exports to the
        /// jobs is this process's, less the BLAS set-up this process made for its own CPU
        /// (`BLASProcessSetup`): each node decides for its own.
        static func sbatch(_ args: [String]) -> String? {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["sbatch", "--parsable"] + args
            p.environment = BLASProcessSetup.environmentForChildren()
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            do { try p.run() } catch { Output.error("error: cannot run sbatch: \(error)"); return nil }
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { Output.error("error: sbatch failed: \(errText)"); return nil }
            return text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init)
        }
    }
}
