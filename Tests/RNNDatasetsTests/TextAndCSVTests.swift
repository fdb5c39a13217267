import Foundation
import Testing
import RNNCore
@testable import RNNDatasets
import RNNTestSupport

func temporaryFile(_ contents: String, name: String = "data.csv") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rnn-exp-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try! Data(contents.utf8).write(to: url)
    return url.path
}

/// One malformed CSV file and the exact error it must give (issue 4).
struct BrokenCSVCase: CustomTestStringConvertible, Sendable {
    let id: String
    let csv: String
    var targetType: TargetType = .real
    var classes: Int? = nil
    /// `line:column: message` (the file path is prepended).
    let expected: String
    var testDescription: String { id }
}

@Suite("CSV and text datasets")
struct TextAndCSVTests {
    func config(_ path: String, _ type: TargetType = .real, classes: Int? = nil) -> DatasetConfig {
        var c = DatasetConfig(kind: .csv)
        c.path = path
        c.sequence = "id"
        c.inputColumns = ["x1", "x2"]
        c.targetColumns = ["y"]
        c.targetType = type
        c.classes = classes
        return c
    }

    // Issue 4: malformed files, each with the exact located error.
    static let broken: [BrokenCSVCase] = [
        BrokenCSVCase(id: "empty file", csv: "", expected: "1:1: the file is empty"),
        BrokenCSVCase(id: "header only", csv: "id,x1,x2,y\n", expected: "2:1: the file has a header but no rows"),
        BrokenCSVCase(id: "missing column", csv: "id,x1,y\na,1,2\n",
                      expected: "1:1: no column named \"x2\" (the header has: id, x1, y)"),
        BrokenCSVCase(id: "non-numeric cell", csv: "id,x1,x2,y\na,1,2,3\na,1,abc,\n",
                      expected: "3:5: column \"x2\": \"abc\" is not a number"),
        BrokenCSVCase(id: "short row", csv: "id,x1,x2,y\na,1,2\n", expected: "2:5: the row has 3 fields; the header has 4"),
        BrokenCSVCase(id: "class id out of range", csv: "id,x1,x2,y\na,1,2,\na,0,1,5\n", targetType: .class, classes: 3,
                      expected: "3:7: class id 5 is out of range (expected an integer 0 … 2)"),
        BrokenCSVCase(id: "class id not an integer", csv: "id,x1,x2,y\na,1,2,1.5\n", targetType: .class,
                      expected: "2:7: class id 1.5 is out of range (expected an integer 0 or more)"),
        BrokenCSVCase(id: "binary target not 0/1", csv: "id,x1,x2,y\na,1,2,2\n", targetType: .binary,
                      expected: "2:7: binary target 2 is not 0 or 1"),
        BrokenCSVCase(id: "sequence without target", csv: "id,x1,x2,y\na,1,2,1\nb,1,2,\nb,3,4,\n",
                      expected: "3:1: sequence \"b\" has no target at any step"),
        BrokenCSVCase(id: "unclosed quote", csv: "id,x1,x2,y\n\"a,1,2,1\n", expected: "2:1: a quoted field is never closed"),
        BrokenCSVCase(id: "stray quote", csv: "id,x1,x2,y\na,1\"2,2,1\n",
                      expected: "2:4: a quote inside an unquoted field (quote the whole field and double the quote)"),
    ]

    @Test(arguments: broken)
    func malformedFilesGiveLocatedErrors(_ c: BrokenCSVCase) {
        let path = temporaryFile(c.csv)
        do {
            _ = try CSVDataset.load(config(path, c.targetType, classes: c.classes))
            Issue.record("no error")
        } catch {
            #expect(error.description == "\(path):\(c.expected)")
        }
    }

    @Test func quotedFieldsCRLFAndBOM() throws {
        let csv = "\u{FEFF}id,x1,x2,y\r\n\"seq, one\",1,\"2\",\r\n\"seq, one\",3,4,0.5\r\n\"b\"\"q\",5,6,7\r\n"
        let d = try CSVDataset.load(config(temporaryFile(csv)))
        #expect(d.train.count == 2)
        #expect(d.train[0] == SequenceSample(length: 2, inputs: .dense([1, 2, 3, 4]), targets: .values([0, 0.5]), mask: [false, true]))
        #expect(d.train[1].inputs == .dense([5, 6]))
    }

    @Test func validationTakesTheLastSequences() throws {
        var csv = "id,x1,x2,y\n"
        for s in 0..<5 { csv += "s\(s),\(s),0,1\n" }
        var c = config(temporaryFile(csv))
        c.validation = 2
        let d = try CSVDataset.load(c)
        #expect(d.train.count == 3 && d.validation.count == 2)
        #expect(d.validation[1].inputs == .dense([4, 0]))
    }

    /// A generated dataset written to CSV and read back gives identical training batches.
    @Test func roundTripThroughCSV() throws {
        var gc = DatasetConfig(kind: .adding)
        gc.length = 6; gc.train = 9; gc.validation = 0
        let generated = try Dataset.load(gc, seed: 4)
        var csv = "id,x1,x2,y\n"
        for (k, s) in generated.train.enumerated() {
            guard case .dense(let x) = s.inputs, case .values(let t) = s.targets else { Issue.record(); return }
            for n in 0..<s.length {
                // Swift's description prints the shortest text that reads back exactly.
                csv += "\(k),\(x[2 * n]),\(x[2 * n + 1]),\(s.mask[n] ? "\(t[n])" : "")\n"
            }
        }
        let read = try CSVDataset.load(config(temporaryFile(csv)))
        #expect(read.train == generated.train)
        let a: [SequenceBatch<Double>] = Batcher.batches(generated.train, layout: .sequences, batch: 4, shuffle: true,
                                                         seed: 1, epoch: 0, inputSize: 2, outputSize: 1)
        let b: [SequenceBatch<Double>] = Batcher.batches(read.train, layout: .sequences, batch: 4, shuffle: true,
                                                         seed: 1, epoch: 0, inputSize: 2, outputSize: 1)
        for (x, y) in zip(a, b) {
            guard case .dense(let xi) = x.inputs, case .dense(let yi) = y.inputs,
                  case .values(let xt) = x.targets, case .values(let yt) = y.targets else { Issue.record(); return }
            #expect(xi == yi && xt == yt && x.mask == y.mask)
        }
    }

    @Test func textVocabularyAndUnknownCharacters() throws {
        var c = DatasetConfig(kind: .text)
        c.path = temporaryFile("abcabcabcaXb", name: "t.txt")
        c.train = 9
        let d = try Dataset.load(c, seed: 1)
        #expect(d.vocabulary == ["a", "b", "c"])
        #expect(d.outputSize == 4)  // a b c + <unk>
        #expect(d.train[0].inputs == .oneHot([0, 1, 2, 0, 1, 2, 0, 1]))
        #expect(d.train[0].targets == .classes([1, 2, 0, 1, 2, 0, 1, 2]))
        #expect(d.validation[0].inputs == .oneHot([0, 3]))
        #expect(d.metric == .bitsPerCharacter)
    }

    @Test func missingTextFileIsAnError() {
        var c = DatasetConfig(kind: .text)
        c.path = "/nonexistent/file.txt"
        #expect(throws: DatasetError.self) { try Dataset.load(c, seed: 1) }
    }
}
