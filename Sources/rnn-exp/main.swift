import ArgumentParser
import Experiments
import Foundation

/// `rnn-exp`: train every point of an experiment grid and write spreadsheet-ready CSV metrics.
struct RNNExp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rnn-exp",
        abstract: "Study RNNs trained with truncated backpropagation through time, BPTT(tau_b, tau_max).",
        discussion: """
            An experiment file (YAML) declares the layer stack, the truncation length tau_max, the \
            update interval tau_b, the dataset and the training settings; a sweep: block turns any \
            of them into a grid. Results go to results/<name>/ as CSV files.

            Start with:  rnn-exp validate experiments/*.yaml
                         rnn-exp run experiments/copy-truncation.yaml
            """,
        version: Commands.versionText,
        subcommands: [Run.self, Plan.self, Validate.self, Gradcheck.self, Report.self, Slurm.self, Summarize.self, CheckBLAS.self]
    )
}

/// Options shared by the commands that read experiment files.
struct ExperimentFiles: ParsableArguments {
    @Argument(help: ArgumentHelp("Experiment files (YAML).", valueName: "file"))
    var files: [String]

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override any setting before the grid is expanded, e.g. --set training.tau_max=20 (repeatable).",
        valueName: "path=value"))
    var overrides: [String] = []
}

/// `--shard I/N`: the I-th (0-based) of N disjoint slices of the grid.
struct Shard: ExpressibleByArgument {
    let index: Int
    let count: Int
    init?(argument: String) {
        let parts = argument.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
        index = i
        count = n
    }
}

extension RNNExp {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train every run of every grid; skip runs already done with the same settings.",
            discussion: "Exit status: 0 all runs done, 1 some runs failed or diverged, 2 bad input (nothing is trained).")

        @OptionGroup var experiments: ExperimentFiles

        @Option(help: "Runs trained side by side, one BLAS thread each (default: the number of cores).")
        var jobs: Int?

        @Option(help: ArgumentHelp("Results folder.", valueName: "dir"))
        var results: String = "results"

        @Flag(help: "Train runs again even when they are done.")
        var force = false

        @Flag(help: "Print only the end summary.")
        var quiet = false

        @Option(help: ArgumentHelp("Run only slice I of N disjoint slices of the grid (0-based), e.g. 0/4.", valueName: "I/N"))
        var shard: Shard?

        @Flag(help: "Do not write report.html at the end.")
        var noReport = false

        func run() throws {
            let jobs = self.jobs ?? ProcessInfo.processInfo.activeProcessorCount
            guard jobs >= 1 else {
                FileHandle.standardError.write(Data("error: --jobs must be at least 1\n".utf8))
                throw ExitCode(2)
            }
            let code = Commands.run(.init(files: experiments.files, overrides: experiments.overrides, results: results,
                                          jobs: jobs, force: force, quiet: quiet, shard: shard.map { ($0.index, $0.count) },
                                          report: !noReport))
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the runs the grids expand to: done, to run, or skipped (and why).")

        @OptionGroup var experiments: ExperimentFiles

        @Option(help: ArgumentHelp("Results folder.", valueName: "dir"))
        var results: String = "results"

        @Option(help: ArgumentHelp("Show only slice I of N.", valueName: "I/N"))
        var shard: Shard?

        func run() throws {
            let code = Commands.plan(files: experiments.files, overrides: experiments.overrides, results: results,
                                     shard: shard.map { ($0.index, $0.count) })
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check experiment files; print every error with file:line:column; exit 2 if any.")

        @OptionGroup var experiments: ExperimentFiles

        func run() throws {
            let code = Commands.validate(files: experiments.files, overrides: experiments.overrides)
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Gradcheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the BPTT gradient of the file's model with central finite differences (float64).",
            discussion: "Uses the first grid point and its first update window. Prints the worst relative error per parameter; exits 1 above 1e-6.")

        @Argument(help: ArgumentHelp("Experiment file (YAML).", valueName: "file"))
        var file: String

        @Option(name: .customLong("set"), help: ArgumentHelp("Override a setting (repeatable).", valueName: "path=value"))
        var overrides: [String] = []

        func run() throws {
            let code = Commands.gradcheck(file: file, overrides: overrides)
            if code != 0 { throw ExitCode(code) }
        }
    }
}

extension RNNExp {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write DIR/report.html: learning curves, heatmaps of a metric over two swept settings, the run table.",
            discussion: "DIR is an experiment's results folder, e.g. results/copy-truncation. `rnn-exp run` refreshes it at the end of a sweep.")

        @Argument(help: ArgumentHelp("Results folder of one experiment.", valueName: "dir"))
        var directory: String

        @Option(help: ArgumentHelp("Swept setting on the heatmap's x axis (dotted path, e.g. training.tau_max).", valueName: "key"))
        var x: String?

        @Option(help: ArgumentHelp("Swept setting on the heatmap's y axis.", valueName: "key"))
        var y: String?

        @Option(help: ArgumentHelp("summary.csv column shown in the heatmaps (default: the dataset's metric, else final_val_loss).", valueName: "column"))
        var metric: String?

        @Option(help: ArgumentHelp("Swept setting that colours the learning curves.", valueName: "key"))
        var group: String?

        func run() throws {
            let code = Commands.report(directory: directory, options: .init(x: x, y: y, metric: metric, group: group))
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Slurm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an sbatch job array that runs the grid on a Slurm cluster, plus a summary job.",
            discussion: """
                Task i of the array runs `rnn-exp run FILE... --shard i/N --jobs C` and exits non-zero \
                when a run fails, so Slurm reports it FAILED. A job that depends on the array \
                (afterany) regenerates summary.csv and metrics.csv. Submitting the scripts again runs \
                only what is missing. The results folder must be on a filesystem all nodes share.
                """)

        @OptionGroup var experiments: ExperimentFiles

        @Option(help: ArgumentHelp("Results folder (shared by the nodes).", valueName: "dir"))
        var results: String = "results"

        @Option(help: "Array tasks N: the grid is cut into N slices balanced by expected cost (default: runs, at most 16).")
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

        @Flag(help: "Submit both jobs with sbatch and print their ids (never waits for them).")
        var submit = false

        func run() throws {
            let code = Commands.slurm(.init(files: experiments.files, overrides: experiments.overrides, results: results,
                                            tasks: tasks, parallel: parallel, time: time, cpusPerTask: cpusPerTask,
                                            partition: partition, output: output, sbatchArguments: sbatchArguments,
                                            submit: submit))
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Summarize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Regenerate summary.csv and metrics.csv from the runs' files (after sharded or cluster runs).")

        @OptionGroup var experiments: ExperimentFiles

        @Option(help: ArgumentHelp("Results folder.", valueName: "dir"))
        var results: String = "results"

        func run() throws {
            let code = Commands.summarize(files: experiments.files, overrides: experiments.overrides, results: results)
            if code != 0 { throw ExitCode(code) }
        }
    }

    /// Self-test of the BLAS kernels this process uses (hidden: for tests and bug reports).
    struct CheckBLAS: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-blas", abstract: "Check BLAS GEMM against a naive kernel on awkward shapes.",
            shouldDisplay: false)

        func run() throws {
            let code = Commands.checkBLAS()
            if code != 0 { throw ExitCode(code) }
        }
    }
}

BLASEnvironment.prepareProcess()

// Bad input exits 2 everywhere, command-line mistakes included (argument-parser uses 64).
do {
    var command = try RNNExp.parseAsRoot()
    try command.run()
} catch {
    if RNNExp.exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((RNNExp.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    RNNExp.exit(withError: error)
}
