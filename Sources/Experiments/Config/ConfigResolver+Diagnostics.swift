import Foundation
import RNNCore
import RNNDatasets

extension ConfigResolver {
    // MARK: diagnostics (SPEC 3.1; the keys: GradientDiagnostics.keys)

    /// The reference horizon against the dataset and tau_max: a stream has no sequence start to go
    /// back to, and a reference shorter than the truncation it is compared with says nothing.
    mutating func checkDiagnostics(_ c: ExperimentConfig, root: ConfigNode) {
        let d = c.diagnostics
        guard !d.isOff, let node = root["diagnostics"] else { return }
        let at = node["reference_tau_max"]?.location ?? node.location
        if d.referenceTauMax == nil && c.layout == .stream {
            error(at, "diagnostics.reference_tau_max",
                  "\(ConfigResolver.withArticle(c.dataset.kind.rawValue)) stream has no sequence start to go back to: give a number >= tau_max")
        }
        if let r = d.referenceTauMax, let tm = c.tauMax, r < tm {
            error(at, "diagnostics.reference_tau_max", "\(r) is below tau_max \(tm): the reference must reach at least as far as the update")
        }
    }
}
