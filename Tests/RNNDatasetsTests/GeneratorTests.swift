import Foundation
import Testing
import RNNCore
@testable import RNNDatasets
import RNNTestSupport

/// Shapes, ranges, determinism and the property that defines each generated task.
@Suite("Generators")
struct GeneratorTests {
    static let kinds: [DatasetKind] = [.countOnes, .binaryAddition, .adding, .copy, .sine, .reber, .random, .echo]

    func make(_ kind: DatasetKind, seed: UInt64 = 1) -> Dataset {
        var c = DatasetConfig(kind: kind)
        c.train = 40
        c.validation = 10
        return try! Dataset.load(c, seed: seed)
    }

    @Test(arguments: kinds)
    func deterministicFromTheSeed(_ kind: DatasetKind) {
        for seed in [1, 2, 99] as [UInt64] {
            let a = make(kind, seed: seed), b = make(kind, seed: seed), other = make(kind, seed: seed + 1000)
            #expect(a.train == b.train && a.validation == b.validation, "seed \(seed)")
            #expect(a.train != other.train, "seed \(seed): a different seed gives different data")
        }
    }

    @Test(arguments: kinds)
    func shapesAndSizes(_ kind: DatasetKind) {
        let d = make(kind)
        #expect(d.layout == kind.layout)
        if d.layout == .sequences {
            #expect(d.train.count == 40 && d.validation.count == 10)
        } else {
            #expect(d.train.count == 1 && d.train[0].length == 40 && d.validation[0].length == 10)
        }
        for s in d.train + d.validation {
            #expect(s.mask.count == s.length)
            #expect(s.targetCount > 0)
            switch s.inputs {
            case .dense(let x): #expect(x.count == s.length * d.inputSize)
            case .oneHot(let x): #expect(x.count == s.length && x.allSatisfy { $0 >= 0 && Int($0) < d.inputSize })
            }
            switch s.targets {
            case .values(let y): #expect(y.count == s.length * d.outputSize)
            case .classes(let y): #expect(y.count == s.length && y.allSatisfy { $0 >= 0 && Int($0) < d.outputSize })
            }
        }
    }

    @Test func countOnesTargetIsTheNumberOfOnes() {
        for s in make(.countOnes).train {
            guard case .dense(let x) = s.inputs, case .values(let t) = s.targets else { Issue.record(); return }
            #expect(x.allSatisfy { $0 == 0 || $0 == 1 })
            #expect(s.mask == (0..<s.length).map { $0 == s.length - 1 })
            #expect(t[s.length - 1] == x.reduce(0, +))
        }
    }

    @Test func binaryAdditionBitsAddUp() {
        for s in make(.binaryAddition).train {
            guard case .dense(let x) = s.inputs, case .values(let t) = s.targets else { Issue.record(); return }
            var a = 0, b = 0, sum = 0
            for k in 0..<s.length {
                a |= Int(x[2 * k]) << k
                b |= Int(x[2 * k + 1]) << k
                sum |= Int(t[k]) << k
            }
            #expect(a + b == sum)
        }
    }

    @Test func addingTargetIsTheSumOfTheMarkedValues() {
        for s in make(.adding).train {
            guard case .dense(let x) = s.inputs, case .values(let t) = s.targets else { Issue.record(); return }
            let marked = (0..<s.length).filter { x[2 * $0 + 1] == 1 }
            #expect(marked.count == 2)
            #expect(marked[0] < s.length / 2 && marked[1] >= s.length / 2)
            #expect(abs(t[s.length - 1] - (x[2 * marked[0]] + x[2 * marked[1]])) < 1e-15)
            #expect((0..<s.length).allSatisfy { x[2 * $0] >= 0 && x[2 * $0] < 1 })
        }
    }

    @Test func copyRecallTargetsEqualThePresentedSymbols() {
        var c = DatasetConfig(kind: .copy)
        c.symbols = 6; c.length = 4; c.delay = 7; c.train = 30; c.validation = 5
        let d = try! Dataset.load(c, seed: 3)
        #expect(d.inputSize == 8 && d.outputSize == 6)
        for s in d.train {
            guard case .oneHot(let x) = s.inputs, case .classes(let t) = s.targets else { Issue.record(); return }
            #expect(s.length == 4 + 7 + 1 + 4)
            #expect(x[4 + 7] == 7)  // go marker
            let recall = (0..<s.length).filter { s.mask[$0] }
            #expect(recall == Array(12..<16))
            #expect(recall.map { t[$0] } == Array(x[0..<4]))
            #expect(x[4..<11].allSatisfy { $0 == 6 })  // blanks
        }
    }

    /// An independent acceptor for the (embedded) Reber grammar, written as the regular expression
    /// `B (T R T | P R P) E` with `R = B (T S* X (X T* V | S) | P T* V (P ... ) ) E` unrolled into a
    /// table walk over the published transition diagram.
    static func acceptsReber(_ s: String) -> Bool {
        // Inner grammar: BT S* X (S | X T* V (P X T* V)* (V|P...)) ... walk a diagram instead.
        let diagram: [Int: [Character: Int]] = [
            0: ["B": 1], 1: ["T": 2, "P": 3], 2: ["S": 2, "X": 4], 3: ["T": 3, "V": 5],
            4: ["X": 3, "S": 6], 5: ["P": 4, "V": 6], 6: ["E": 7],
        ]
        var state = 0
        for ch in s {
            guard let next = diagram[state]?[ch] else { return false }
            state = next
        }
        return state == 7
    }

    @Test func reberStringsAreAcceptedByTheGrammar() {
        let d = make(.reber)
        for s in d.train + d.validation {
            guard case .oneHot(let x) = s.inputs, case .values(let t) = s.targets else { Issue.record(); return }
            let text = String(x.map { EmbeddedReber.alphabet[Int($0)] })
            let first = text.index(after: text.startIndex), second = text.index(after: first)
            let lastTwo = text.index(text.endIndex, offsetBy: -2)
            #expect(text.first == "B" && text.last == "E")
            #expect(text[first] == text[lastTwo], "\(text): the embedded symbol is repeated")
            #expect(Self.acceptsReber(String(text[second..<lastTwo])), "\(text)")
            // Each target set contains the symbol that actually comes next.
            for k in 0..<(s.length - 1) { #expect(t[k * 7 + Int(x[k + 1])] == 1, "\(text) at \(k)") }
        }
    }

    @Test func sineIsNextStepPrediction() {
        let d = make(.sine)
        guard case .dense(let x) = d.train[0].inputs, case .values(let t) = d.train[0].targets else { Issue.record(); return }
        for k in 0..<(x.count - 1) { #expect(t[k] == x[k + 1]) }
        #expect(x.allSatisfy { abs($0) < 2 })
    }

    @Test func batcherKeepsThePartialBatchAndShufflesBySeed() {
        let d = make(.countOnes)
        let batches: [SequenceBatch<Float>] = Batcher.batches(d.train, layout: .sequences, batch: 16, shuffle: true,
                                                              seed: 1, epoch: 0, inputSize: 1, outputSize: 1)
        #expect(batches.map(\.lanes) == [16, 16, 8])
        let again: [SequenceBatch<Float>] = Batcher.batches(d.train, layout: .sequences, batch: 16, shuffle: true,
                                                            seed: 1, epoch: 0, inputSize: 1, outputSize: 1)
        let nextEpoch: [SequenceBatch<Float>] = Batcher.batches(d.train, layout: .sequences, batch: 16, shuffle: true,
                                                                seed: 1, epoch: 1, inputSize: 1, outputSize: 1)
        #expect(batches[0].mask == again[0].mask && batches[0].lengths == again[0].lengths)
        if case .dense(let a) = batches[0].inputs, case .dense(let b) = nextEpoch[0].inputs { #expect(a != b) }
    }

    @Test func streamLanesAreContiguous() {
        let d = make(.sine)
        let lanes = Batcher.lanes(of: d.train[0], count: 3, inputSize: 1, outputSize: 1)
        #expect(lanes.map(\.length) == [13, 13, 13])
        guard case .dense(let all) = d.train[0].inputs, case .dense(let second) = lanes[1].inputs else { Issue.record(); return }
        #expect(Array(all[13..<26]) == second)
    }
}
