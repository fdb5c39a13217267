/// The dataset kinds of SPEC section 4, by their YAML name.
public enum DatasetKind: String, Sendable, Codable, CaseIterable {
    case countOnes = "count-ones"
    case binaryAddition = "binary-addition"
    case adding
    case copy
    case sine
    case reber
    case text
    case csv
    case random
    case echo

    /// The descriptor that declares everything about the kind.
    public var descriptor: any DatasetKindDescriptor.Type {
        switch self {
        case .countOnes: return CountOnes.self
        case .binaryAddition: return BinaryAddition.self
        case .adding: return AddingProblem.self
        case .copy: return CopyMemory.self
        case .sine: return SineStream.self
        case .reber: return EmbeddedReber.self
        case .text: return TextStream.self
        case .csv: return CSVDataset.self
        case .random: return RandomStream.self
        case .echo: return EchoStream.self
        }
    }

    /// Every descriptor by kind name (`copy` → `CopyMemory`).
    public static var registry: [String: any DatasetKindDescriptor.Type] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0.descriptor) })
    }

    /// Keys a `dataset:` block of this kind accepts (besides `kind`).
    public var keys: [String] { descriptor.keys.map(\.name) }

    /// Whether the kind is a stream (SPEC section 4).
    public var layout: DatasetLayout { descriptor.layout }
}
