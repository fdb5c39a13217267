/// The seed's space × time picture of one update of BPTT(tau_b, tau_max) (SPEC 3 and 7,
/// `rnn-exp explain`): which steps inject errors, and which (layer, step) cells the backward
/// pass reaches before truncation cuts it.
///
/// Errors are injected into the top layer at the steps of `(p, n]` that have a target. An error
/// at layer `l`, step `m` moves down in space to layer `l - 1` at the same step (through `SW^l`),
/// and, when `l` is recurrent, back in time to `l` at step `m - 1` (through `TW^l`) while
/// `m - 1 >= a = max(s, n - tau_max + 1)`:
/// ```
/// reached(L, m)  = m injected  or  (L recurrent and reached(L, m + 1) and m >= a)
/// reached(l, m)  = reached(l + 1, m)  or  (l recurrent and reached(l, m + 1) and m >= a)
/// ```
public struct UpdateGrid: Sendable, Equatable {
    /// The update's step `n` (1-based from the sequence start `s = 1`).
    public let updateStep: Int
    /// The previous update's step `p`: errors are injected at `(p, n]`.
    public let previousStep: Int
    /// `a = max(1, n - tau_max + 1)`: no gradient flows below it.
    public let windowStart: Int
    /// Steps of `(p, n]` with a target.
    public let injected: [Int]
    /// Per layer (index 0 = the layer above the input), the steps some injected error reaches.
    public let reached: [[Int]]

    /// The update steps of a sequence of `length` steps: every multiple of `tau_b`, and the last
    /// (random truncation: the steps drawn for the first batch of epoch 1, and the last).
    public static func updateSteps(length: Int, truncation: Truncation) -> [Int] {
        if let random = truncation.random { return random.updatePoints(steps: length, epoch: 1, batch: 0) }
        let (tauB, _) = truncation.resolved(steps: length)
        var steps = Array(stride(from: tauB, through: length, by: tauB))
        if steps.last != length && length > 0 { steps.append(length) }
        return steps
    }

    /// The grid of the update at `step` (nil: the first update with a target), for a sequence
    /// whose steps `1 ... hasTarget.count` have a target where `hasTarget` says so. Nil when no
    /// update with a target exists, or `step` is not an update step.
    public init?(spec: NetworkSpec, truncation: Truncation, hasTarget: [Bool], step: Int? = nil) {
        let length = hasTarget.count
        let (_, tauMax) = truncation.resolved(steps: length)
        let updates = Self.updateSteps(length: length, truncation: truncation)
        func injected(_ p: Int, _ n: Int) -> [Int] { ((p + 1)...n).filter { hasTarget[$0 - 1] } }
        var chosen: (p: Int, n: Int)? = nil
        var previous = 0
        for n in updates {
            if let step {
                if n == step { chosen = (previous, n) }
            } else if !injected(previous, n).isEmpty {
                chosen = (previous, n)
            }
            if chosen != nil { break }
            previous = n
        }
        guard let (p, n) = chosen else { return nil }
        let a = truncation.random != nil ? p + 1 : max(1, n - tauMax + 1)  // random: the window is (p, n]
        let top = injected(p, n)
        var reached = [[Int]](repeating: [], count: spec.layers.count)
        var fromAbove = Set(top)
        for l in stride(from: spec.layers.count - 1, through: 0, by: -1) {
            var here = Set<Int>()
            var carried = false
            for m in stride(from: n, through: a, by: -1) {
                let hit = fromAbove.contains(m) || (spec.layers[l].isRecurrent && carried)
                if hit { here.insert(m) }
                carried = hit
            }
            reached[l] = here.sorted()
            fromAbove = here
        }
        self.updateStep = n
        self.previousStep = p
        self.windowStart = a
        self.injected = top
        self.reached = reached
    }

    /// A dependency of lag `L` gets gradient from some injected errors iff `tau_max >= L + 1`,
    /// and from all of them iff `tau_max - tau_b >= L` (SPEC 3.2).
    public static func reach(lag: Int, tauB: Int, tauMax: Int) -> (some: Bool, all: Bool) {
        (tauMax >= lag + 1, tauMax - tauB >= lag)
    }
}
