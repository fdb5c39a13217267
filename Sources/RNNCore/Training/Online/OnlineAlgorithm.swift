/// The online gradient algorithms of SPEC 3.3 (`training.algorithm`, beside `bptt`).
///
/// All five run the forward step by step and carry, per lane, an estimate of the influence
/// `M_n = ∂s_n/∂θ` of the parameters on the recurrent state `s` (rnn, gru: `s = h`; lstm:
/// `s = [h; c]`). At every step `m` with a target the readout (dense layers above the top
/// recurrent layer `L`) gets its exact same-step gradient, and the recurrent parameters get
/// `Δθ += q_mᵀ M_m` with `q_m = ∂C_m/∂h^L_m` taken through the readout at step `m` only.
/// Nothing runs backward in time. With `Wc = [SW | TW | b]` acting on `â_n = [h^{l-1}_n; h^l_{n-1}; 1]`,
/// `D_n = diag(σ'(z_n))`, `J_n = D_n TW`, `I_n[k; i, j] = δ_ki σ'(z_{n,k}) â_{n,j}`:
///
/// | case | carried per lane | recursion |
/// |---|---|---|
/// | `rtrl`  | `M^{l,j}` for every recurrent `j ≤ l` (and dense layers between) | `M^{l,j}_n = D^l_n (SW^l M^{l-1,j}_n + TW^l M^{l,j}_{n-1}) + [l = j] I^l_n` |
/// | `snap1` | `M̄^l` (`n × C`, per layer) | `M̄_n[k, j] = σ'(z_{n,k}) (TW[k, k] M̄_{n-1}[k, j] + â_{n,j})` |
/// | `uoro`  | `ã` (stacked state), `θ̃` (all parameters up to `L`) | `ã ← ρ0 J ã + ρ1 ν`, `θ̃ ← θ̃/ρ0 + νᵀI/ρ1` |
/// | `rflo`  | `B^l` (`n × C`, per layer) | `B_n = λ B_{n-1} + σ'(z_n) â_nᵀ` |
/// | `kf-rtrl` | `u^l` (`C`), `A^l` (`n × n`), per layer, `M ≈ A ⊗ u` | `u ← c1 p1 u + c2 p2 â`, `A ← c1/p1 H A + c2/p2 D`, `H = D TW` |
///
/// `snap1`, `rflo` and `kf-rtrl` are per layer: the error reaches layer `l-1` through the same step only,
/// `q^{l-1}_m = SW^lᵀ (σ'(z^l_m) ⊙ q^l_m)` (gated layers: the cell's same-step VJP).
///
/// `lru` layers (SPEC 3.5; `OnlineGradient+LRU`): the state is the complex `s`, `[Re s; Im s]`;
/// `rtrl` (its block stored dense), `snap1` (the layer's exact influence, complex and element-wise,
/// `≈ P` per lane) and `uoro` (2S noise entries per lru) train them; `rflo` and `kf-rtrl` refuse them.
public enum OnlineAlgorithm: String, Sendable, Codable, CaseIterable {
    /// Exact real-time recurrent learning (Williams & Zipser 1989), whole stack.
    case rtrl
    /// SnAp-1 (Menick et al. 2021): the structural pattern of `I_n`, per layer.
    case snap1
    /// Unbiased online recurrent optimisation (Tallec & Ollivier 2018): one rank-one pair.
    case uoro
    /// Random-feedback local online learning (Murray 2019) with symmetric feedback and decay λ;
    /// rnn and indrnn layers only.
    case rflo
    /// Kronecker-factored RTRL (Mujika, Meier & Steger 2018, SPEC 3.5): per layer, one unbiased
    /// Kronecker product `A ⊗ u` of the influence; rnn and indrnn layers only.
    case kfRTRL = "kf-rtrl"

    /// Per layer (the error reaches a lower layer through the same step only), not whole-stack.
    public var isPerLayer: Bool { self == .snap1 || self == .rflo || self == .kfRTRL }

    /// Trains rnn and indrnn layers only (no gated layers).
    public var isPlainLayersOnly: Bool { self == .rflo || self == .kfRTRL }
}

/// Where rflo's error `q` on the top recurrent layer comes from (SPEC 3.5, `training.rflo_feedback`):
/// through the readout's own weights (`symmetric`, the default: the true same-step error), or
/// through a fixed random matrix `B_fb` per readout layer, of its `W_s`'s shape, drawn once from the
/// run's seed like initial weights (uniform in `±1/sqrt(units)`) and never trained (`random`:
/// Murray 2019's original). The readout's own gradient stays exact either way. e-prop for rate
/// networks (Bellec et al. 2020) is rflo with symmetric feedback and `rflo_decay` the leak.
public enum RFLOFeedback: String, Sendable, Codable, CaseIterable {
    case symmetric
    case random

    /// The `Xoshiro256` stream of `B_fb`'s draws (`"RFLO"` in ASCII): re-derived from the seed,
    /// so a checkpoint needs nothing of it.
    public static let stream: UInt64 = 0x52_464C_4F

    /// `B_fb` of every dense layer above the top recurrent one, in layer order, each `W_s`'s
    /// shape (units × inputs, row-major), as `random` draws it from `seed`; empty for other stacks.
    public static func randomMatrices(spec: NetworkSpec, seed: UInt64) -> [Int: [Double]] {
        guard let top = spec.layers.lastIndex(where: { $0.isRecurrent }) else { return [:] }
        var rng = Xoshiro256(seed: seed, stream: stream)
        var out: [Int: [Double]] = [:]
        for l in (top + 1)..<spec.layers.count {
            let layer = spec.layers[l], bound = 1 / Double(layer.units).squareRoot()
            out[l] = (0..<(layer.units * layer.inputs)).map { _ in rng.uniform(-bound, bound) }
        }
        return out
    }
}

/// A network or argument the online engine cannot run, as a plain sentence.
public struct OnlineGradientError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// UORO's Rademacher noise `ν`: a pure function of (seed, epoch, batch, lane, step), so a resumed
/// run is bit-identical and independent of how lanes are split over jobs.
///
/// The tuple is hashed with SplitMix64's finaliser into one 64-bit key, which seeds a
/// `Xoshiro256` (stream `OnlineNoise.stream`); each 64-bit output gives 64 signs, least
/// significant bit first (`1 → +1`, `0 → -1`). `count` is the stacked state size `S` (recurrent
/// layers bottom-up, lstm `[h; c]`).
public enum OnlineNoise {
    /// The `Xoshiro256` stream of the noise (`"UORO"` in ASCII); not in `SeedStream` so that this
    /// folder stays self-contained.
    public static let stream: UInt64 = 0x554F_524F

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The key of one (seed, epoch, batch, lane, step) tuple.
    @inline(__always)
    static func key(seed: UInt64, epoch: Int, batch: Int, lane: Int, step: Int) -> UInt64 {
        var k = mix(seed)
        k = mix(k ^ UInt64(bitPattern: Int64(epoch)))
        k = mix(k ^ UInt64(bitPattern: Int64(batch)))
        k = mix(k ^ UInt64(bitPattern: Int64(lane)))
        return mix(k ^ UInt64(bitPattern: Int64(step)))
    }

    /// Writes `count` signs into `out` without allocating.
    @inline(__always)
    static func fill<S: RNNScalar>(_ out: UnsafeMutablePointer<S>, count: Int, seed: UInt64, epoch: Int,
                                   batch: Int, lane: Int, step: Int) {
        var rng = Xoshiro256(seed: key(seed: seed, epoch: epoch, batch: batch, lane: lane, step: step), stream: stream)
        var bits: UInt64 = 0
        for i in 0..<count {
            if i % 64 == 0 { bits = rng.next() }
            out[i] = (bits & 1) != 0 ? 1 : -1
            bits >>= 1
        }
    }

    /// `ν` of one lane and step (step 1-based within the batch), `count` entries of ±1.
    public static func signs(seed: UInt64, epoch: Int, batch: Int, lane: Int, step: Int, count: Int) -> [Double] {
        guard count > 0 else { return [] }
        var out = [Double](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer {
            fill($0.baseAddress!, count: count, seed: seed, epoch: epoch, batch: batch, lane: lane, step: step)
        }
        return out
    }
}
