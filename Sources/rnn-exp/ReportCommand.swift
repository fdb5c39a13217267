import ArgumentParser
import Experiments
import RNNCore

extension RNNExp {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write DIR/report.html: learning curves, heatmaps of a metric over two swept settings, the run table; with several DIRs, one page comparing them.",
            discussion: "DIR is an experiment's results folder, e.g. results/copy-truncation. `rnn-exp run` refreshes it at the end of a sweep. `rnn-exp report results/a results/b` writes results/comparison.html (or --output).")

        @Argument(help: ArgumentHelp("Results folder of an experiment; several write one page comparing them.", valueName: "dir"))
        var directories: [String]

        @Option(help: ArgumentHelp("Where the comparison of several folders goes (default: comparison.html in their common parent).", valueName: "path"))
        var output: String?

        @Option(help: ArgumentHelp("Swept setting on the heatmap's x axis (dotted path, e.g. training.tau_max).", valueName: "key"))
        var x: String?

        @Option(help: ArgumentHelp("Swept setting on the heatmap's y axis.", valueName: "key"))
        var y: String?

        @Option(help: ArgumentHelp("summary.csv column shown in the heatmaps (default: the dataset's metric, else final_val_loss); with several DIRs, each experiment's settings with its mean ± sd and n over seeds.", valueName: "column"))
        var metric: String?

        @Option(help: ArgumentHelp("Swept setting that colours the learning curves.", valueName: "key"))
        var group: String?

        @Option(help: ArgumentHelp("With many settings (more than 12), also draw the seed band of the settings with this value (besides the best, median and worst); repeatable.", valueName: "key=value"))
        var highlight: [String] = []

        func run() throws {
            if directories.count > 1 {
                let given = [("--x", x), ("--y", y), ("--group", group)].filter { $0.1 != nil } + highlight.map { ("--highlight", Optional($0)) }
                guard given.isEmpty else {
                    for (option, value) in given {
                        Output.error("\(SourceLocation.option(option, value ?? "")): applies to one experiment's report (its heatmaps and curves); give one folder, or leave it out to compare several")
                    }
                    Output.error("\(Output.count(given.count, "error")); nothing was written.")
                    throw ExitCode.badInput
                }
                do {
                    let path = output ?? ComparisonReport.defaultOutput(directories)
                    let comparison = try ComparisonReport(directories: directories, metric: metric)
                    let problems = comparison.optionErrors()
                    guard problems.isEmpty else {
                        for p in problems { Output.error(p.description) }
                        Output.error("\(Output.count(problems.count, "error")); nothing was written.")
                        throw ExitCode.badInput
                    }
                    Output.line(try comparison.write(to: path))
                } catch let e as ExitCode {
                    throw e
                } catch {
                    Output.error("error: \(error)")
                    throw ExitCode.badInput
                }
                return
            }
            guard let directory = directories.first else { throw ExitCode.badInput }
            guard output == nil else {
                Output.error("\(SourceLocation.option("--output", output ?? "")): names the comparison page of several folders; one folder's report is DIR/report.html")
                throw ExitCode.badInput
            }
            do {
                let report = try HTMLReport(directory: directory, options: .init(x: x, y: y, metric: metric, group: group, highlight: highlight))
                let problems = report.optionErrors()
                guard problems.isEmpty else {
                    for p in problems { Output.error(p.description) }
                    Output.error("\(Output.count(problems.count, "error")); nothing was written.")
                    throw ExitCode.badInput
                }
                Output.line(try report.write())
            } catch let e as ExitCode {
                throw e
            } catch {
                Output.error("error: \(error)")
                throw ExitCode.badInput
            }
        }
    }

    struct Summarize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Regenerate summary.csv and metrics.csv from the runs' files (after sharded or cluster runs).",
            discussion: "Takes experiment files, or results folders (results/NAME, as report does): a folder stands for the experiment file its experiment.json names.")

        @Argument(help: ArgumentHelp("Experiment files (YAML), or their results folders (results/NAME).", valueName: "file-or-folder"))
        var files: [String]

        @OptionGroup var settings: SettingOverrides

        @OptionGroup var selection: GridSelectionOption

        @OptionGroup var resultsFolder: ResultsFolder

        var experiments: ExperimentFiles { ExperimentFiles(files: files, settings: settings) }

        func run() throws {
            // A results folder (results/NAME, as `report` takes) stands for the experiment file its
            // experiment.json names, with its parent as the results root.
            var files: [String] = [], roots: [String: String] = [:]
            for f in experiments.files {
                switch ResultsStore.experimentFile(ofResultsFolder: f) {
                case .notAFolder: files.append(f)
                case .file(let yaml, let root, let name):
                    files.append(yaml)
                    roots[name] = root
                case .unreadable(let reason):
                    Output.error("\(f):1:1: \(reason)")
                    Output.error("1 error; nothing was written.")
                    throw ExitCode.badInput
                }
            }
            // --only is checked as run checks it; the summaries cover every run either way.
            let plans = try ExperimentFiles.plans(files, overrides: experiments.overrides, only: selection.only)
            var failed = false
            for p in plans {
                let store = ResultsStore(root: roots[p.name] ?? resultsFolder.results)
                do {
                    try store.writeSummaries(p, explainGrids: p.explainGrids())
                    let done = p.gridRuns.filter { store.status(p.name, $0.id) == .done }.count
                    Output.line("\(store.experimentDirectory(p.name))/summary.csv: \(done) of \(p.gridRuns.count) runs done")
                    Output.line(try HTMLReport(directory: store.experimentDirectory(p.name)).write())
                } catch {
                    Output.error("error: \(error)")
                    failed = true
                }
            }
            if failed { throw ExitCode.someRunsFailed }
        }
    }

    /// Self-test of the BLAS kernels this process uses (for bug reports; the README lists it).
    struct CheckBLAS: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-blas", abstract: "Check BLAS GEMM against a naive kernel on awkward shapes (exit 1 if it is off).")

        func run() throws {
            BLASProcessSetup.reexecIfItHelps()
            let worst = BLASSelfTest.run()
            let ok = BLASSelfTest.passed(worst)
            Output.line(BLASEnvironment.description)
            Output.line("worst |BLAS - naive| / k: float32 \(worst.float32), float64 \(worst.float64): \(ok ? "ok" : "FAILED")")
            if !ok { throw ExitCode.someRunsFailed }
        }
    }
}
