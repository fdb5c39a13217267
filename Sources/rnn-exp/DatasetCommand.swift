import ArgumentParser
import Experiments
import Foundation

extension RNNExp {
    /// `rnn-exp dataset …`: the data of an experiment, outside the tool.
    struct DatasetCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dataset", abstract: "Work with an experiment's data (export it as CSV).",
            subcommands: [Export.self])

        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write the dataset of the file's first grid point in the csv kind's format.",
                discussion: """
                    Training sequences, then validation sequences; a stream as the lanes its batch cuts it \
                    into. Prints the dataset: block of a csv experiment that reads the file back and gives \
                    the same losses (with the same model and training settings).
                    """)

            @OptionGroup var experiment: SingleExperimentFile

            @Option(help: ArgumentHelp("Where to write the CSV (default: NAME-data.csv in the current folder).", valueName: "path"))
            var output: String?

            func run() throws {
                let plan = try experiment.plan()
                let export: DatasetExport
                do { export = try DatasetExport.export(plan) } catch {
                    Output.error("error: \(error)")
                    throw ExitCode.badInput
                }
                let path = output ?? "\(plan.name)-data.csv"
                do { try AtomicFile.write(Data(export.csv.utf8), to: path) } catch {
                    Output.error("error: \(error)")
                    throw ExitCode.someRunsFailed
                }
                Output.error("\(path): \(export.trainSequences) training and \(export.validationSequences) validation sequences of \(export.runID)")
                Output.line(export.yaml(path: path))
            }
        }
    }
}
