import ArgumentParser
import Experiments

/// Options shared by the commands that read experiment files.
struct ExperimentFiles: ParsableArguments {
    @Argument(help: ArgumentHelp("Experiment files (YAML).", valueName: "file"))
    var files: [String]

    init() {}

    init(files: [String], settings: SettingOverrides) {
        self.files = files
        self.settings = settings
    }

    @OptionGroup var settings: SettingOverrides

    var overrides: [String] { settings.overrides }

    /// Every file's plan, or every located error printed and exit 2 (nothing is run or written).
    func plans(only: [String] = []) throws -> [ExperimentPlan] {
        try Self.plans(files, overrides: overrides, only: only)
    }

    static func plans(_ files: [String], overrides: [String], only: [String] = []) throws -> [ExperimentPlan] {
        switch Planner.plan(files: files, overrides: overrides, only: only) {
        case .success(let p): return p
        case .failure(let e):
            for error in e.errors { Output.error(error.description) }
            Output.error("\(Output.count(e.errors.count, "error")); nothing was run or written.")
            throw ExitCode.badInput
        }
    }

    /// Grid points left out as invalid (`tau_b > tau_max`), one warning line per file.
    static func warnSkipped(_ plans: [ExperimentPlan]) {
        for p in plans where !p.skipped.isEmpty {
            Output.error("warning: \(p.file): \(Output.count(p.skipped.count, "grid point")) skipped (tau_b > tau_max): "
                         + p.skipped.map(\.label).joined(separator: "; "))
        }
    }
}

/// `--set PATH=VALUE`, declared once for every command that reads experiment files.
struct SettingOverrides: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override any setting before the grid is expanded, e.g. --set training.tau_max=20 (repeatable).",
        valueName: "path=value"))
    var overrides: [String] = []
}

/// `--only KEY=VALUE[,VALUE]`: part of a grid, for every command that takes experiment files
/// (`run`, `plan`, `validate`, `slurm`; `explain`, `gradcheck` and `dataset export` through
/// `SingleExperimentFile`: the first selected point).
struct GridSelectionOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Only the grid points whose swept KEY (e.g. tau_max or training.tau_max) has one of these values (repeatable); "
        + "the grid, its run ids and its summaries stay those of the whole file.", valueName: "key=value[,value]"))
    var only: [String] = []
}

/// One experiment file and its overrides, for the commands that look at its first grid point.
struct SingleExperimentFile: ParsableArguments {
    @Argument(help: ArgumentHelp("Experiment file (YAML).", valueName: "file"))
    var file: String

    @OptionGroup var settings: SettingOverrides

    @OptionGroup var selection: GridSelectionOption

    /// The file's plan (its runs: the selected points), or every located error printed and exit 2.
    func plan() throws -> ExperimentPlan {
        guard let plan = try ExperimentFiles.plans([file], overrides: settings.overrides, only: selection.only).first else { throw ExitCode.badInput }
        return plan
    }
}

/// The results folder option.
struct ResultsFolder: ParsableArguments {
    @Option(help: ArgumentHelp("Results folder.", valueName: "dir"))
    var results: String = "results"
}

extension Shard: ExpressibleByArgument {
    public init?(argument: String) { self.init(text: argument) }
}
