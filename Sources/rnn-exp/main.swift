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
        subcommands: [Run.self, Plan.self, Validate.self, Gradcheck.self, CheckBLAS.self]
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

        @Option(help: "Runs trained side by side (default: the number of cores).")
        var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

        @Option(help: ArgumentHelp("Results folder.", valueName: "dir"))
        var results: String = "results"

        @Flag(help: "Train runs again even when they are done.")
        var force = false

        @Flag(help: "Print only the end summary.")
        var quiet = false

        @Option(help: ArgumentHelp("Run only slice I of N disjoint slices of the grid (0-based), e.g. 0/4.", valueName: "I/N"))
        var shard: Shard?

        func run() throws {
            guard jobs >= 1 else {
                FileHandle.standardError.write(Data("error: --jobs must be at least 1\n".utf8))
                throw ExitCode(2)
            }
            let code = Commands.run(.init(files: experiments.files, overrides: experiments.overrides, results: results,
                                          jobs: jobs, force: force, quiet: quiet, shard: shard.map { ($0.index, $0.count) }))
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
RNNExp.main()
