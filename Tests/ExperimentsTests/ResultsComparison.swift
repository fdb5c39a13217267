import Foundation
import RNNTestSupport

/// (loss columns of every run's metrics.csv, final weights) for comparing two result sets.
func lossesAndWeights(_ results: String, _ name: String) -> [String: String] {
    var out: [String: String] = [:]
    let runs = (try? FileManager.default.contentsOfDirectory(atPath: "\(results)/\(name)/runs")) ?? []
    for id in runs.sorted() {
        let csv = parseCSV(readFile("\(results)/\(name)/runs/\(id)/metrics.csv") ?? "")
        let losses = ["epoch", "updates", "train_loss", "val_loss", "grad_norm"].map { column(csv, $0).joined(separator: ";") }
        let weights = FileManager.default.contents(atPath: "\(results)/\(name)/runs/\(id)/final.safetensors") ?? Data()
        out[id] = losses.joined(separator: "|") + "|" + weights.base64EncodedString()
    }
    return out
}
