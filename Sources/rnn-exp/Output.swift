import ArgumentParser
import Experiments
import Foundation

/// Where the commands write: results and listings to stdout, diagnostics to stderr.
enum Output {
    static func line(_ s: String) { print(s) }

    static func error(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    /// `N thing` / `N things`.
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}

/// The process exit statuses (README, SPEC 7): 0 all runs done, 1 some runs failed or diverged (or
/// a check failed), 2 bad input (nothing was trained or written).
enum ExitStatus {
    static let ok: Int32 = 0
    static let someRunsFailed: Int32 = 1
    static let badInput: Int32 = 2
}

extension ExitCode {
    static let badInput = ExitCode(ExitStatus.badInput)
    static let someRunsFailed = ExitCode(ExitStatus.someRunsFailed)
}
