import Foundation
import RNNCore

/// One row of a run's `metrics.csv`.
public struct EpochRecord: Sendable, Equatable {
    public var epoch: Int
    /// Optimizer steps so far, cumulative.
    public var updates: Int
    public var trainLoss: Double
    public var valLoss: Double?
    public var metric: Double?
    /// Mean pre-clip gradient norm over the epoch's updates (nil for epoch 0).
    public var gradNorm: Double?
    /// Seconds since the run started.
    public var wallSeconds: Double
    /// Training sample-steps (lane steps) per second in this epoch (nil for epoch 0).
    public var sampleStepsPerSecond: Double?
    /// Mean `cos(g, g_ref)` and `|g - g_ref| / |g_ref|` (parameter `all`) over the epoch's sampled
    /// updates (gradient diagnostics, SPEC 3.1; nil when off or none was sampled).
    public var gradCos: Double? = nil
    public var gradRelBias: Double? = nil
    /// Random truncation (SPEC 3.4): the mean and the longest window `n − a + 1` of the epoch's
    /// updates (nil otherwise, and for epoch 0).
    public var meanWindow: Double? = nil
    public var longestWindow: Double? = nil
    /// Adaptive tau_max (SPEC 3.4): the window the epoch trained with (chosen at its start, or
    /// kept from the last estimate) and its estimated relative bias `ρ` (nil otherwise, and for
    /// epoch 0).
    public var chosenTauMax: Double? = nil
    public var rho: Double? = nil
    /// Seconds the epoch spent on adaptive tau_max's estimate (its measuring pass; 0 at an epoch
    /// without one). A timing column, like `wall_s`.
    public var estimateSeconds: Double? = nil

    public init(epoch: Int, updates: Int, trainLoss: Double, valLoss: Double?, metric: Double?, gradNorm: Double?,
                wallSeconds: Double, sampleStepsPerSecond: Double?, gradCos: Double? = nil, gradRelBias: Double? = nil) {
        self.epoch = epoch; self.updates = updates; self.trainLoss = trainLoss; self.valLoss = valLoss
        self.metric = metric; self.gradNorm = gradNorm; self.wallSeconds = wallSeconds
        self.sampleStepsPerSecond = sampleStepsPerSecond; self.gradCos = gradCos; self.gradRelBias = gradRelBias
    }
}

/// How a run ended.
public enum RunStatus: Sendable, Equatable {
    case done
    /// NaN or infinity appeared in epoch `epoch`; training stopped there.
    case diverged(epoch: Int, reason: String)
    case failed(reason: String)
    /// Stopped by a signal at an update or batch boundary: no status file is written; the run continues
    /// from the checkpoint it saved there next time.
    case interrupted

    /// The text of the `status` file: `done`, `diverged: epoch 3: ...`, `failed: ...`.
    public var fileText: String {
        switch self {
        case .done: return "done\n"
        case .diverged(let e, let r): return "diverged: epoch \(e): \(r)\n"
        case .failed(let r): return "failed: \(r)\n"
        case .interrupted: return "interrupted\n"
        }
    }

    public var word: String {
        switch self {
        case .done: return "done"
        case .diverged: return "diverged"
        case .failed: return "failed"
        case .interrupted: return "interrupted"
        }
    }

    public static func parse(_ text: String) -> RunStatus? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if t == "done" { return .done }
        if t.hasPrefix("diverged") {
            let parts = t.split(separator: ":", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
            let epoch = parts.count > 1 ? Int(parts[1].replacingOccurrences(of: "epoch ", with: "")) ?? 0 : 0
            return .diverged(epoch: epoch, reason: parts.count > 2 ? parts[2] : "")
        }
        if t.hasPrefix("failed") { return .failed(reason: String(t.dropFirst("failed".count)).trimmingCharacters(in: CharacterSet(charactersIn: ": "))) }
        return nil
    }
}

/// What a run produced.
public struct RunOutcome: Sendable {
    public var status: RunStatus
    public var records: [EpochRecord]
    public var initialParameters: [Double]
    public var finalParameters: [Double]
    public var spec: NetworkSpec
    public var baseline: (loss: Double, description: String)?
    /// The loss of a model that knows every dependency (echo's `floor_loss`), where the dataset knows it.
    public var floor: (loss: Double, description: String)?
    /// Gradient diagnostics (SPEC 3.1): `gradient.csv` and `credit.csv` rows; empty when off.
    public var gradientRows: [GradientRow] = []
    public var creditRows: [CreditRow] = []
    /// The trainer's state after the last epoch of a run that ended `done` (nil otherwise): kept
    /// as the run's `final-state.safetensors`, so that a run of the same configuration with more
    /// epochs continues from it instead of starting over (issue 24, feature 4).
    public var finalState: Checkpoint? = nil

    public init(status: RunStatus, records: [EpochRecord], initialParameters: [Double], finalParameters: [Double],
                spec: NetworkSpec, baseline: (loss: Double, description: String)? = nil) {
        self.status = status
        self.records = records
        self.initialParameters = initialParameters
        self.finalParameters = finalParameters
        self.spec = spec
        self.baseline = baseline
    }
}
