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

            BLAS: where OpenBLAS falls back to generic kernels on a CPU with AVX2/AVX-512, the \
            commands that compute (run, gradcheck) set OPENBLAS_CORETYPE for this CPU and restart \
            themselves once; set OPENBLAS_CORETYPE yourself, or RNN_EXP_NO_REEXEC=1, to opt out.
            """,
        version: RNNExpVersion.versionText,
        subcommands: [Run.self, Plan.self, Validate.self, Gradcheck.self, Explain.self, Report.self, Slurm.self, Summarize.self, DatasetCommand.self, CheckBLAS.self]
    )
}

BLASProcessSetup.start()

// Bad input exits 2 everywhere, command-line mistakes included (argument-parser uses 64).
do {
    var command = try RNNExp.parseAsRoot()
    try command.run()
} catch {
    if RNNExp.exitCode(for: error) == .validationFailure {
        Output.error(RNNExp.fullMessage(for: error))
        exit(ExitStatus.badInput)
    }
    RNNExp.exit(withError: error)
}
