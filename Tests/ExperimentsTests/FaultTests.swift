import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 6: signals, concurrent runners, unwritable and full disks.
@Suite("Faults", .serialized)
struct FaultTests {
    static let yaml = EndToEndTests.sweepYAML.replacingOccurrences(of: "epochs: 3", with: "epochs: 25")
        .replacingOccurrences(of: "training.seed: [1, 2]", with: "training.seed: [1, 2, 3, 4, 5, 6]")

    func start(_ args: [String]) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binaryPath)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return (p, err)
    }

    func finish(_ p: Process, _ err: Pipe) -> (Int32, String) {
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    /// SIGINT, SIGTERM and SIGUSR1 stop cleanly: exit 128 + signal, a message saying what finished
    /// and what will run again, and a rerun completes to the same results as an uninterrupted sweep.
    /// The signal is sent once the sweep is under way (a run has checkpointed an epoch), not after a
    /// fixed time; should a very fast machine finish the sweep before the signal lands, the test
    /// tries again with four times the epochs, so the stop is always exercised.
    @Test(arguments: [SIGINT, SIGTERM, SIGUSR1])
    func signalsStopCleanly(_ signal: Int32) throws {
        var stopped = false
        for epochs in [25, 100, 400, 1600] where !stopped {
            let dir = scratchDirectory("sig")
            writeFile("\(dir)/s.yaml", Self.yaml.replacingOccurrences(of: "epochs: 25", with: "epochs: \(epochs)"))
            #expect(try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(dir)/ref", "--quiet"]).status == 0)
            let (p, err) = try start(["run", "\(dir)/s.yaml", "--results", "\(dir)/r", "--jobs", "2", "--quiet"])
            if waitWhileRunning(p, until: { someRunHasACheckpoint("\(dir)/r/tiny/runs") }) {
                kill(p.processIdentifier, signal)
            }
            let (status, text) = finish(p, err)
            guard status != 0 else {
                print("signal \(signal): \(epochs) epochs finished before the signal landed; trying a longer sweep")
                continue
            }
            stopped = true
            #expect(status == 128 + signal, "\(text)")
            #expect(text.contains(signal == SIGINT ? "interrupted" : signal == SIGUSR1 ? "asked to stop (USR1)" : "terminated"), "\(text)")
            #expect(text.contains("when you run the same command again:\n  "), "\(text)")
            let again = try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(dir)/r", "--quiet"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(lossesAndWeights("\(dir)/r", "tiny") == lossesAndWeights("\(dir)/ref", "tiny"))
        }
        #expect(stopped, "the signal never reached a running sweep")
    }

    /// Two runners on the same file and results folder at once: no run is trained by both, no
    /// file is corrupted, both exit 0, and together they finish the grid.
    @Test func concurrentRunnersShareTheWork() throws {
        let dir = scratchDirectory("conc")
        writeFile("\(dir)/s.yaml", Self.yaml)
        let (a, ea) = try start(["run", "\(dir)/s.yaml", "--results", "\(dir)/r", "--jobs", "1"])
        let (b, eb) = try start(["run", "\(dir)/s.yaml", "--results", "\(dir)/r", "--jobs", "1"])
        let (sa, ta) = finish(a, ea)
        let (sb, tb) = finish(b, eb)
        #expect(sa == 0 && sb == 0, "\(ta)\n\(tb)")
        func trained(_ t: String) -> Int {
            t.split(separator: "\n").compactMap { line -> Int? in
                guard line.contains(" trained, ") else { return nil }
                return Int(line.split(separator: " ")[0])
            }.first ?? -1
        }
        #expect(trained(ta) + trained(tb) == 12, "each run trained exactly once:\n\(ta)\n\(tb)")
        let summary = parseCSV(readFile("\(dir)/r/tiny/summary.csv") ?? "")
        #expect(summary.rows.count == 12 && column(summary, "status").allSatisfy { $0 == "done" })
                #expect(try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(dir)/ref", "--quiet"]).status == 0)
        #expect(lossesAndWeights("\(dir)/r", "tiny") == lossesAndWeights("\(dir)/ref", "tiny"))
    }

    /// Whether this machine lets the tests mount a small tmpfs (root, and a sandbox that allows it).
    static let canMountTmpfs: Bool = {
        guard getuid() == 0 else { return false }
        let probe = scratchDirectory("tmpfs-probe")
        guard shell("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe) == 0 else { return false }
        shell("umount", probe)
        return true
    }()

    /// A results folder that cannot be created is bad input: exit 2 before anything trains.
    @Test func unwritableResultsFolder() throws {
        let dir = scratchDirectory("unw")
        writeFile("\(dir)/s.yaml", validBase)
        writeFile("\(dir)/afile", "not a folder")
        let r = try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(dir)/afile/results"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("error: --results \(dir)/afile/results: "), "\(r.stderr)")
        #expect(r.stderr.contains("nothing was run"))
    }

    /// A disk that fills up (a 64 KB tmpfs, where the sandbox lets root mount one): a clear error,
    /// exit 1, and the runs finished before it intact.
    @Test(.enabled(if: FaultTests.canMountTmpfs, "needs root and a tmpfs mount (writeFailureLeavesEarlierResultsIntact covers the rest)"))
    func fullDisk() throws {
        let dir = scratchDirectory("full")
        let mnt = "\(dir)/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        guard shell("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt) == 0 else {
            Issue.record("mounting a tmpfs failed although the probe could")
            return
        }
        defer { _ = shell("umount", mnt) }
        writeFile("\(dir)/s.yaml", Self.yaml.replacingOccurrences(of: "units: 5", with: "units: 40"))
        let r = try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(mnt)/results", "--jobs", "1", "--quiet"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("No space left on device"), "\(r.stderr)")
        // Every run marked done is complete.
        for id in (try? FileManager.default.contentsOfDirectory(atPath: "\(mnt)/results/tiny/runs")) ?? [] {
            let d = "\(mnt)/results/tiny/runs/\(id)"
            guard readFile("\(d)/status") == "done\n" else { continue }
            for f in ["config.yaml", "metrics.csv", "initial.safetensors", "final.safetensors"] {
                #expect(FileManager.default.fileExists(atPath: "\(d)/\(f)"), "\(id)/\(f)")
            }
        }
    }

    /// Write failures simulated at the I/O layer (ENOSPC on the nth write): the runner stops with
    /// the error, and every file written before is untouched and complete.
    @Test func writeFailureLeavesEarlierResultsIntact() throws {
        let dir = scratchDirectory("inject")
        writeFile("\(dir)/s.yaml", EndToEndTests.sweepYAML)
        let plans = try Planner.plan(files: ["\(dir)/s.yaml"]).get()
        let store = ResultsStore(root: "\(dir)/r")
        #expect(Runner(plans: plans, store: store, options: .init(jobs: 1)).run().allDone)
        let before = try snapshot("\(dir)/r")
        let failing = ResultsStore(root: "\(dir)/r", writer: FailingDisk(failFrom: 3))
        let report = Runner(plans: plans, store: failing, options: .init(jobs: 1, force: true)).run()
        #expect(!report.allDone)
        #expect(report.writeErrors.contains { $0.contains("cannot write") })
        // Files are either as before or absent-of-status (the run will redo them): nothing is torn.
        let after = try snapshot("\(dir)/r")
        for (path, data) in after where before[path] != nil && before[path] != data {
            #expect(path.hasSuffix("status") == false, "\(path) changed")
        }
        let rerun = Runner(plans: plans, store: store, options: .init(jobs: 1)).run()
        #expect(rerun.allDone)
    }

    /// A disk that fills up: writes succeed until the `failFrom`-th, then fail with ENOSPC.
    final class FailingDisk: ResultsFileWriter, @unchecked Sendable {
        let failFrom: Int
        private var writes = 0
        private let lock = NSLock()
        init(failFrom: Int) { self.failFrom = failFrom }

        func write(_ data: Data, to path: String) throws(WriteError) {
            lock.lock()
            writes += 1
            let n = writes
            lock.unlock()
            if n >= failFrom { throw WriteError(path: path, reason: String(cString: strerror(ENOSPC))) }
            try AtomicFile.write(data, to: path)
        }
    }

    func snapshot(_ root: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for p in try FileManager.default.subpathsOfDirectory(atPath: root) {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(root)/\(p)", isDirectory: &isDir), !isDir.boolValue {
                out[p] = FileManager.default.contents(atPath: "\(root)/\(p)")
            }
        }
        return out
    }
}
