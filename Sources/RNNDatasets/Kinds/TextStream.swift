import Foundation
import RNNCore

/// `text` (stream): a character-level language model of a UTF-8 file. The input at step t is the
/// one-hot character t, the target the class of character t + 1. The first `train` characters
/// (default 90% of the file) are the training split and the next `validation` characters (default
/// the rest) the validation split. The vocabulary is the training split's characters (Unicode
/// scalars), sorted; characters of the validation split that training never saw map to one extra
/// class, `<unk>`, added only when needed. Metric: bits per character.
public enum TextStream: DatasetKindDescriptor {
    public static let kind = DatasetKind.text
    public static let layout = DatasetLayout.stream
    public static let keys = DatasetKey.sizes(train: nil, validation: nil) + [
        .file("path", \.path, whenMissing: "missing: the text file to model"),
    ]
    public static let readsFiles = true

    /// Known only from the file: the vocabulary sets the sizes.
    public static func shape(_ config: DatasetConfig) -> DatasetShape? { nil }

    /// The training stream: `train` characters when given, else 1 (the file decides; unknown at plan time).
    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .estimate(c.train ?? 1) }

    public static func make(_ config: DatasetConfig, seed: UInt64) throws(DatasetError) -> Dataset { try load(config) }

    static func load(_ config: DatasetConfig) throws(DatasetError) -> Dataset {
        guard let path = config.path else { throw DatasetError(file: "text", "dataset.path is missing") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DatasetError(file: path, "cannot read the file (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError(file: path, "the file is not valid UTF-8")
        }
        let scalars = Array(text.unicodeScalars)
        guard scalars.count >= 4 else { throw DatasetError(file: path, "the file has fewer than 4 characters") }
        let trainCount = min(config.train ?? scalars.count * 9 / 10, scalars.count - 2)
        let validationCount = min(config.validation ?? scalars.count - trainCount, scalars.count - trainCount)
        let trainText = scalars[0..<trainCount]
        let validationText = scalars[trainCount..<(trainCount + validationCount)]
        let vocabulary = Array(Set(trainText)).sorted { $0.value < $1.value }
        var index: [Unicode.Scalar: Int32] = [:]
        for (i, s) in vocabulary.enumerated() { index[s] = Int32(i) }
        let unknown = Int32(vocabulary.count)
        let needsUnknown = validationText.contains { index[$0] == nil }
        let classes = vocabulary.count + (needsUnknown ? 1 : 0)
        func stream(_ chars: ArraySlice<Unicode.Scalar>) -> [SequenceSample] {
            let ids = chars.map { index[$0] ?? unknown }
            guard ids.count >= 2 else { return [] }
            return [SequenceSample(length: ids.count - 1, inputs: .oneHot(Array(ids.dropLast())),
                                   targets: .classes(Array(ids.dropFirst())),
                                   mask: [Bool](repeating: true, count: ids.count - 1))]
        }
        return Dataset(kind: kind, layout: layout, inputSize: classes, outputSize: classes,
                       defaultLoss: .crossEntropy, metric: .bitsPerCharacter,
                       train: stream(trainText), validation: stream(validationText),
                       baseline: (Foundation.log(Double(classes)), "uniform over the vocabulary"),
                       vocabulary: vocabulary.map(Character.init))
    }
}
