import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 6: a seeded mutation fuzzer over the experiment-file loader + validator and over the CSV
/// dataset reader. Chosen over libFuzzer because it needs no special toolchain flags, runs inside
/// `make test` on any machine, and replays exactly from its seed; the property checked is the
/// tool's contract: every input either validates or yields located errors (`file:line:column`,
/// line and column >= 1), with no trap, no crash and no hang (each input is timed).
///
/// Each target always runs its first `guaranteedInputs` inputs, whatever the machine's speed, then
/// goes on up to `RNN_EXP_FUZZ_INPUTS` (default 10,000) while within 45 s (`RNN_EXP_FUZZ_SECONDS`):
/// a slower machine checks fewer inputs, never fails for being slow. Set the variables higher for a
/// longer local run.
@Suite("Fuzzing", .serialized)
struct FuzzTests {
    static let inputs = Int(ProcessInfo.processInfo.environment["RNN_EXP_FUZZ_INPUTS"] ?? "") ?? 10_000
    static let secondsPerTarget = Double(ProcessInfo.processInfo.environment["RNN_EXP_FUZZ_SECONDS"] ?? "") ?? 45
    static let guaranteedInputs = 1_000

    /// Whether input `count` (0-based) runs: the first `guaranteedInputs`, then more while time is left.
    static func continues(_ count: Int, since start: Date) -> Bool {
        count < inputs && (count < guaranteedInputs || Date().timeIntervalSince(start) < secondsPerTarget)
    }

    /// The hang guard, relative to the machine: no input may take longer than 200 times the
    /// median input (nor 5 s, whichever is longer; here the slowest is about 20 times the median).
    static func hangBound(_ durations: [Double]) -> Double {
        let sorted = durations.sorted()
        let median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        return max(5, 200 * median)
    }

    static let dictionary = [":", " ", "\n", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ", "'", "\"", "#",
                             "1e12", "-1", "0", "99999999999999999999", "1e308", "nan", "full", "null", "~", "true",
                             "tau_max", "tau_b", "units", "sweep", "zip", "layers", "kind", "csv", "text", "softmax",
                             "\t", "\u{FEFF}", "é", "\\", "%YAML 1.2\n", "---\n", "...\n", "<<: ", "1000000000"]

    struct Mutator {
        var rng: SplitMix64

        mutating func mutate(_ text: String, corpus: [String]) -> String {
            var bytes = Array(text.utf8)
            for _ in 0...(rng.next() % 4) {
                let pos = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 7 {
                case 0 where !bytes.isEmpty:  // flip a byte
                    bytes[pos] = UInt8(truncatingIfNeeded: rng.next())
                case 1:  // insert a token
                    let token = FuzzTests.dictionary[Int(rng.next() % UInt64(FuzzTests.dictionary.count))]
                    bytes.insert(contentsOf: Array(token.utf8), at: pos)
                case 2 where !bytes.isEmpty:  // delete a range
                    let n = min(Int(rng.next() % 16) + 1, bytes.count - pos)
                    bytes.removeSubrange(pos..<(pos + n))
                case 3:  // duplicate a line
                    let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                    guard !lines.isEmpty else { break }
                    let i = Int(rng.next() % UInt64(lines.count))
                    var l = lines.map(String.init)
                    l.insert(l[i], at: i)
                    bytes = Array(l.joined(separator: "\n").utf8)
                case 4:  // splice with another corpus entry
                    let other = Array(corpus[Int(rng.next() % UInt64(corpus.count))].utf8)
                    let cut = other.isEmpty ? 0 : Int(rng.next() % UInt64(other.count))
                    bytes = Array(bytes[..<pos]) + Array(other[cut...])
                case 5 where !bytes.isEmpty:  // replace a digit run with a huge or odd number
                    if let i = bytes[pos...].firstIndex(where: { $0 >= 0x30 && $0 <= 0x39 }) {
                        let odd = ["0", "-7", "1e12", "99999999999999999999", "1000000000", "0.0000001", "3.5"]
                        bytes.replaceSubrange(i...i, with: Array(odd[Int(rng.next() % UInt64(odd.count))].utf8))
                    }
                default:  // indent or unindent a line
                    bytes.insert(contentsOf: Array("  ".utf8), at: pos)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Checks one input: whether it validated, and a description of a contract violation.
    static func check(_ path: String) -> (valid: Bool, problem: String?) {
        switch Planner.plan(files: [path]) {
        case .success(let plans):
            return (true, plans.first?.runs.isEmpty == true ? "validated with no runs" : nil)
        case .failure(let e):
            if e.errors.isEmpty { return (false, "failed without an error") }
            for error in e.errors where error.location.line < 1 || error.location.column < 1 || error.message.isEmpty {
                return (false, "unlocated error: \(error)")
            }
            return (false, nil)
        }
    }

    @Test func experimentFilesFuzz() throws {
        let dir = scratchDirectory("fuzz")
        // The examples refer to data/…; give the fuzzed files the same neighbourhood.
        try FileManager.default.copyItem(atPath: "\(repositoryRoot)/experiments/data", toPath: "\(dir)/data")
        var corpus = try FileManager.default.contentsOfDirectory(atPath: "\(repositoryRoot)/experiments")
            .filter { $0.hasSuffix(".yaml") }.sorted()
            .map { try String(contentsOfFile: "\(repositoryRoot)/experiments/\($0)", encoding: .utf8) }
        corpus += ConfigErrorTests.cases.map(\.yaml)
        var mutator = Mutator(rng: SplitMix64(seed: 20261127))
        let start = Date()
        var count = 0, valid = 0
        var durations: [Double] = []
        var failures: [String] = []
        while Self.continues(count, since: start) {
            let seedText = corpus[count % corpus.count]
            let text = mutator.mutate(seedText, corpus: corpus)
            let path = "\(dir)/in-\(count % 4).yaml"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let t = Date()
            let (isValid, problem) = Self.check(path)
            durations.append(Date().timeIntervalSince(t))
            if let problem, failures.count < 5 { failures.append("input \(count): \(problem)\n\(text)") }
            if isValid { valid += 1 }
            count += 1
        }
        let slowest = durations.max() ?? 0, bound = Self.hangBound(durations)
        print("fuzz experiment files: \(count) inputs (\(valid) valid), slowest \(String(format: "%.3f", slowest)) s (bound \(String(format: "%.1f", bound)) s), \(failures.count) contract violations")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n---\n"))")
        #expect(slowest < bound, "an input took \(slowest) s")
        #expect(count >= min(Self.inputs, Self.guaranteedInputs))
        #expect(valid > 0, "no fuzzed input validated: the mutations destroy every file")
    }

    @Test func csvDatasetsFuzz() throws {
        let dir = scratchDirectory("fuzzcsv")
        let yaml = """
            dataset: {kind: csv, path: data.csv, sequence: id, inputs: [x1, x2], targets: [y], target_type: class, validation: 1}
            model: {layers: [{type: rnn, units: 3}, {type: dense, activation: softmax}]}
            training: {epochs: 1, batch: 2}

            """
        writeFile("\(dir)/exp.yaml", yaml)
        let corpus = [
            "id,x1,x2,y\na,1,2,\na,0,1,1\nb,1,1,0\nb,\"2\",3,2\nc,1,1,1\n",
            "\u{FEFF}id,x1,x2,y\r\n\"q,1\",1,2,0\r\n\"q,1\",3,4,\r\nz,5,6,1\r\n",
        ] + TextAndCSVCorpus.broken
        var mutator = Mutator(rng: SplitMix64(seed: 4242))
        let start = Date()
        var count = 0
        var durations: [Double] = []
        var failures: [String] = []
        while Self.continues(count, since: start) {
            let text = mutator.mutate(corpus[count % corpus.count], corpus: corpus)
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir)/data.csv"))
            let t = Date()
            let problem = Self.check("\(dir)/exp.yaml").problem
            durations.append(Date().timeIntervalSince(t))
            if let problem, failures.count < 5 { failures.append("input \(count): \(problem)\n\(text)") }
            count += 1
        }
        let slowest = durations.max() ?? 0, bound = Self.hangBound(durations)
        print("fuzz csv datasets: \(count) inputs, slowest \(String(format: "%.3f", slowest)) s (bound \(String(format: "%.1f", bound)) s), \(failures.count) contract violations")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n---\n"))")
        #expect(slowest < bound, "an input took \(slowest) s")
        #expect(count >= min(Self.inputs, Self.guaranteedInputs))
    }
}

/// Seeds for the CSV fuzzer: the malformed files of the dataset tests.
enum TextAndCSVCorpus {
    static let broken = [
        "", "id,x1,x2,y\n", "id,x1,y\na,1,2\n", "id,x1,x2,y\na,1,2,3\na,1,abc,\n", "id,x1,x2,y\na,1,2\n",
        "id,x1,x2,y\na,1,2,\na,0,1,5\n", "id,x1,x2,y\na,1,2,1.5\n", "id,x1,x2,y\na,1,2,1\nb,1,2,\nb,3,4,\n",
        "id,x1,x2,y\n\"a,1,2,1\n", "id,x1,x2,y\na,1\"2,2,1\n",
    ]
}
