import Foundation

/// Helpers shared by every test suite: scratch folders, files, the built binary and CSV output.

/// A fresh temporary folder for one test.
public func scratchDirectory(_ tag: String = "t") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rnn-exp-\(tag)-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

public func writeFile(_ path: String, _ text: String) {
    try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try! Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

public func readFile(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

/// The repository root (for experiments/ and the built binary).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The `rnn-exp` binary the tests run: `$RNN_EXP_BIN`, else `.build/debug/rnn-exp`
/// (`make test` builds it with `swift build --build-tests` first).
public let binaryPath: String = {
    if let p = ProcessInfo.processInfo.environment["RNN_EXP_BIN"] { return p }
    let bundle = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("rnn-exp").path
    if FileManager.default.isExecutableFile(atPath: bundle) { return bundle }
    return "\(repositoryRoot)/.build/debug/rnn-exp"
}()

public struct ProcessResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs the built binary to completion.
public func rnnExp(_ arguments: [String], cwd: String? = nil, environment: [String: String] = [:]) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binaryPath)
    p.arguments = arguments
    if !environment.isEmpty {
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
}

/// Parses a CSV written by the tool into a header and rows.
public func parseCSV(_ text: String) -> (header: [String], rows: [[String]]) {
    var rows: [[String]] = [], field = "", row: [String] = [], quoted = false
    var chars = Array(text)[...]
    while let c = chars.popFirst() {
        if quoted {
            if c == "\"" {
                if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
            } else { field.append(c) }
        } else if c == "\"" { quoted = true }
        else if c == "," { row.append(field); field = "" }
        else if c == "\n" { row.append(field); rows.append(row); row = []; field = "" }
        else { field.append(c) }
    }
    return (rows.first ?? [], Array(rows.dropFirst()))
}

/// Column `name` of every row.
public func column(_ csv: (header: [String], rows: [[String]]), _ name: String) -> [String] {
    guard let i = csv.header.firstIndex(of: name) else { return [] }
    return csv.rows.map { $0[i] }
}

/// Runs a command quietly and returns its exit status (-1 when it cannot start).
@discardableResult
public func shell(_ args: String...) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

/// Waits for an event instead of a fixed time: polls `condition` every millisecond until it holds
/// or `process` exits. True when the condition held while the process was still running, so a
/// signal sent next reaches it in the state the test waited for, however fast the machine is.
/// `limit` (seconds) only guards against a hang.
public func waitWhileRunning(_ process: Process, limit: Double = 900, until condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(limit)
    while process.isRunning && Date() < deadline {
        if condition() { return process.isRunning }
        usleep(1_000)
    }
    return false
}

/// Whether some run under `runsFolder` (an experiment's `runs/`) holds a checkpoint now.
public func someRunHasACheckpoint(_ runsFolder: String) -> Bool {
    let runs = (try? FileManager.default.contentsOfDirectory(atPath: runsFolder)) ?? []
    return runs.contains { FileManager.default.fileExists(atPath: "\(runsFolder)/\($0)/checkpoint/state.safetensors") }
}
