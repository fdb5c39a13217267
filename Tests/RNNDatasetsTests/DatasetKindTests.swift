import Foundation
import RNNTestSupport
import Testing
import RNNCore
@testable import RNNDatasets

/// One configuration of a dataset kind, for the descriptor table tests.
struct KindCase: CustomTestStringConvertible, Sendable {
    let id: String
    let config: DatasetConfig
    var testDescription: String { id }
}

/// What each descriptor declares (shape, steps, keys, lags) against what its generator makes.
@Suite("Dataset kind descriptors")
struct DatasetKindTests {
    static func generated(_ kind: DatasetKind, _ edit: (inout DatasetConfig) -> Void = { _ in }) -> DatasetConfig {
        var c = DatasetConfig(kind: kind)
        c.train = 40
        c.validation = 10
        edit(&c)
        return c
    }

    static func csv(_ type: TargetType) -> DatasetConfig {
        var c = DatasetConfig(kind: .csv)
        c.path = temporaryFile("id,x1,x2,y\na,1,2,\na,0,1,1\nb,1,1,0\nc,0,0,1\n")
        c.sequence = "id"
        c.inputColumns = ["x1", "x2"]
        c.targetColumns = ["y"]
        c.targetType = type
        return c
    }

    static let cases: [KindCase] = [
        KindCase(id: "count-ones", config: generated(.countOnes)),
        KindCase(id: "count-ones length 3", config: generated(.countOnes) { $0.length = 3 }),
        KindCase(id: "binary-addition", config: generated(.binaryAddition)),
        KindCase(id: "binary-addition 3 bits", config: generated(.binaryAddition) { $0.bits = 3 }),
        KindCase(id: "adding", config: generated(.adding)),
        KindCase(id: "adding length 7", config: generated(.adding) { $0.length = 7 }),
        KindCase(id: "copy", config: generated(.copy)),
        KindCase(id: "copy 3 symbols, delay 0", config: generated(.copy) { $0.symbols = 3; $0.length = 2; $0.delay = 0 }),
        KindCase(id: "sine", config: generated(.sine)),
        KindCase(id: "reber", config: generated(.reber)),
        KindCase(id: "reber, not embedded", config: generated(.reber) { $0.embedded = false }),
        KindCase(id: "random", config: generated(.random)),
        KindCase(id: "random 3 inputs, 5 classes", config: generated(.random) { $0.inputs = 3; $0.classes = 5 }),
        KindCase(id: "echo", config: generated(.echo)),
        KindCase(id: "echo lags [1, 2]", config: generated(.echo) { $0.lags = [1, 2]; $0.weights = [0.25, 0.25] }),
        KindCase(id: "text", config: { var c = DatasetConfig(kind: .text); c.path = temporaryFile("abcabcabcaXb", name: "t.txt"); return c }()),
        KindCase(id: "csv real", config: csv(.real)),
        KindCase(id: "csv class", config: csv(.class)),
        KindCase(id: "csv binary", config: csv(.binary)),
    ]

    @Test func everyKindHasACase() {
        #expect(Set(Self.cases.map(\.config.kind)) == Set(DatasetKind.allCases))
    }

    @Test(arguments: cases)
    func declaredShapeIsTheGeneratedShape(_ k: KindCase) throws {
        let c = k.config
        let loaded = try Dataset.load(c, seed: 1)
        #expect(try Dataset.shape(for: c) == loaded.shape)
        #expect(loaded.layout == c.kind.descriptor.layout)
        #expect(loaded.kind == c.kind)
        // Generated kinds know their shape without generating; file-backed kinds say they read files.
        #expect((c.kind.descriptor.shape(c.resolved()) == nil) == c.kind.descriptor.readsFiles)
    }

    @Test(arguments: cases)
    func declaredStepsAreTheGeneratedSteps(_ k: KindCase) throws {
        let c = k.config
        let d = try Dataset.load(c, seed: 1)
        switch c.kind.descriptor.stepsPerSequence(c.resolved()) {
        case .exact(let n):
            switch d.layout {
            case .sequences: #expect((d.train + d.validation).allSatisfy { $0.length == n })
            case .stream: #expect(d.train.map(\.length) == [n])
            }
        case .estimate(let n):
            // Reber strings vary in length: the estimate must cover the typical string.
            if c.kind == .reber {
                let mean = Double(d.train.reduce(0) { $0 + $1.length }) / Double(d.train.count)
                #expect(Double(n) >= 2 * mean, "estimate \(n), mean \(mean)")
            }
        }
    }

    @Test(arguments: DatasetKind.allCases)
    func keysAreDeclaredOnce(_ kind: DatasetKind) {
        let d = kind.descriptor
        let names = d.keys.map(\.name)
        #expect(Set(names).count == names.count, "duplicate keys")
        #expect(d.canonicalKeyOrder.sorted() == names.sorted(), "canonical order lists each key once")
        #expect(Array(names.prefix(2)) == ["train", "validation"])
        #expect(DatasetKind.registry[kind.rawValue]?.kind == kind)
        #expect(kind.keys == names)
    }

    @Test(arguments: DatasetKind.allCases)
    func resolvedFillsEveryDefault(_ kind: DatasetKind) {
        let c = DatasetConfig(kind: kind).resolved()
        for key in kind.descriptor.keys {
            #expect(key.value(in: c) == key.defaultValue, "\(key.name)")
        }
        #expect(c.resolved() == c)
    }

    @Test func generatedKindsHaveNoProblemsWithTheirDefaults() {
        for kind in DatasetKind.allCases {
            #expect(kind.descriptor.problems(DatasetConfig(kind: kind).resolved()).isEmpty, "\(kind.rawValue)")
        }
    }

    /// SPEC 3.2, copy: every recall target equals the input `length + delay + 1` steps earlier.
    @Test func copyRecallLagMatchesTheGenerator() throws {
        let c = Self.generated(.copy) { $0.symbols = 5; $0.length = 4; $0.delay = 6 }
        #expect(c.dependencyLags == .exact([4 + 6 + 1]))
        let lag = try #require(c.dependencyLags?.longest)
        for s in try Dataset.load(c, seed: 2).train {
            guard case .oneHot(let x) = s.inputs, case .classes(let t) = s.targets else { Issue.record(); return }
            for n in 0..<s.length where s.mask[n] { #expect(t[n] == x[n - lag], "step \(n)") }
        }
    }

    /// SPEC 3.2, count-ones: every lag up to `length - 1`.
    @Test func countOnesDependsOnEveryLag() {
        #expect(Self.generated(.countOnes) { $0.length = 6 }.dependencyLags == .every(0...5))
    }

    /// SPEC 3.2, adding: the markers' distances to the target, in the two declared ranges.
    @Test func addingMarkerLagsLieInTheDeclaredRanges() throws {
        for length in [2, 3, 7, 10] {
            let c = Self.generated(.adding) { $0.length = length }
            let lags = try #require(c.dependencyLags)
            #expect(lags.ranges.count == 2 && lags.longest == length - 1, "length \(length)")
            var seen = Set<Int>()
            for s in try Dataset.load(c, seed: 5).train {
                guard case .dense(let x) = s.inputs else { Issue.record(); return }
                let markers = (0..<s.length).filter { x[2 * $0 + 1] == 1 }
                for m in markers {
                    #expect(lags.contains(s.length - 1 - m), "length \(length): marker at \(m)")
                    seen.insert(s.length - 1 - m)
                }
            }
            #expect(seen.allSatisfy(lags.contains))
        }
    }

    @Test func kindsWithoutKnownLagsSayNil() {
        for kind in [DatasetKind.binaryAddition, .sine, .reber, .random, .text, .csv] {
            #expect(DatasetConfig(kind: kind).dependencyLags == nil, "\(kind.rawValue)")
        }
    }
}
