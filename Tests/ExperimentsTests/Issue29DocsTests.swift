import Foundation
import RNNTestSupport
import Testing
@testable import Experiments

/// Issue 29, bug 12: what the docs say is what the tool does (the README's numbers and ids are
/// the tool's own output, or tested against it).
@Suite("Issue 29: docs")
struct Issue29DocsTests {
    static var readme: String { readFile("\(repositoryRoot)/README.md") ?? "" }

    /// The README's `make sweep` run count is the examples' (what validate counts).
    @Test func readmeCountsTheExamplesRuns() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(repositoryRoot)/experiments")
            .filter { $0.hasSuffix(".yaml") }.map { "\(repositoryRoot)/experiments/\($0)" }
        let runs = try Planner.plan(files: files).get().reduce(0) { $0 + $1.runs.count }
        let quoted = Self.readme.components(separatedBy: "`make sweep` trains all ").dropFirst().first?.split(separator: " ").first
        #expect(quoted.flatMap { Int($0) } == runs, "README: \(quoted ?? "nothing"), validate: \(runs)")
    }

    /// The README's explain example is the tool's output (run id included).
    @Test func readmeExplainExampleIsTheToolsOutput() throws {
        let command = "$ rnn-exp explain experiments/copy-truncation.yaml\n"
        let block = try #require(Self.readme.components(separatedBy: command).dropFirst().first?.components(separatedBy: "```").first)
        let r = try rnnExp(["explain", "experiments/copy-truncation.yaml"], cwd: repositoryRoot)
        #expect(r.status == 0, "\(r.stderr)")
        func lines(_ text: String) -> [String] {
            text.split(separator: "\n").map { line -> String in
                var l = String(line)
                while l.hasSuffix(" ") { l.removeLast() }
                return l
            }.filter { !$0.isEmpty }
        }
        #expect(lines(block) == lines(r.stdout), "\(r.stdout)")
    }

    /// The overview table's online-vs-truncated row quotes the online table's means.
    @Test func readmeOnlineTablesAgree() throws {
        let overview = try #require(Self.readme.split(separator: "\n").first { $0.hasPrefix("| online-vs-truncated") })
        let quoted = try #require(overview.components(separatedBy: "final val loss ").dropFirst().first?.components(separatedBy: ";").first)
            .components(separatedBy: " / ")
        let table = Self.readme.components(separatedBy: "| algorithm | final val loss (mean ± sd) |").dropFirst().first ?? ""
        let means = table.split(separator: "\n").dropFirst(2).prefix { $0.hasPrefix("|") }
            .map { $0.split(separator: "|")[1].trimmingCharacters(in: .whitespaces).components(separatedBy: " ± ")[0] }
        #expect(means.count == 7 && quoted == means, "overview \(quoted), table \(means)")
    }

    /// run --help states the signal exit codes; summarize --help says it takes results folders.
    @Test func helpTextsSayWhatTheCommandsDo() throws {
        let run = try rnnExp(["run", "--help"]).stdout
        #expect(["130", "143", "138", "SIGINT", "SIGTERM", "SIGUSR1"].allSatisfy(run.contains), "\(run)")
        let summarize = try rnnExp(["summarize", "--help"]).stdout
        let arguments = summarize.components(separatedBy: "ARGUMENTS:").dropFirst().first?.components(separatedBy: "OPTIONS:").first ?? ""
        #expect(summarize.contains("<file-or-folder>") && arguments.contains("results folders"), "\(summarize)")
    }

    /// The last layer's default activation follows the loss, as the docs now say.
    @Test func lastLayerActivationDefaultIsTheLosss() throws {
        let docs = readFile("\(repositoryRoot)/docs/experiment-files.md") ?? ""
        let row = docs.split(separator: "\n").first { $0.hasPrefix("| `layers.<i>.activation`") }.map(String.init) ?? ""
        let dir = scratchDirectory("activation")
        for (dataset, loss, expected) in [("adding", "mse", "identity"), ("copy", "cross-entropy", "softmax"),
                                          ("binary-addition", "binary cross-entropy", "sigmoid")] {
            #expect(row.contains("`\(expected)` for \(loss)"), "\(row)")
            writeFile("\(dir)/\(dataset).yaml", "dataset: {kind: \(dataset)}\nmodel: {layers: [{type: rnn, units: 3}, {type: dense}]}\n")
            let plan = try Planner.plan(files: ["\(dir)/\(dataset).yaml"]).get()[0]
            #expect(plan.runs[0].config.layers.last?.activation.rawValue == expected, "\(dataset)")
        }
    }
}
