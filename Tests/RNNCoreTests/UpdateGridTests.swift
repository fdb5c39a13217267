import Testing
import RNNCore
import RNNTestSupport

/// Issue 14: the space × time grid of one update (`rnn-exp explain`), against grids worked by hand.
@Suite("Update grid (explain)")
struct UpdateGridTests {
    static func spec(_ kinds: [LayerKind]) -> NetworkSpec {
        NetworkSpec(inputs: 1, layers: kinds.enumerated().map { ($0.element, 2, $0.offset == kinds.count - 1 ? .identity : .tanh) },
                    loss: .mse)
    }

    /// rnn, dense, rnn, dense (output); targets at steps 3 and 6 of 7; BPTT(3, 5), the update at 6:
    /// injected (3, 6] ∩ targets = {6}; a = 2. The output dense layer holds the error at 6 only;
    /// the rnn below carries it back to a; the dense layer between the two rnn layers passes each
    /// step straight down; the bottom rnn reaches the same steps (it cannot go below a).
    @Test func denseBetweenTwoRecurrentLayers() throws {
        let g = try #require(UpdateGrid(spec: Self.spec([.rnn, .dense, .rnn, .dense]), truncation: Truncation(tauB: 3, tauMax: 5),
                                        hasTarget: [false, false, true, false, false, true, false], step: 6))
        #expect(g.updateStep == 6 && g.previousStep == 3 && g.windowStart == 2)
        #expect(g.injected == [6])
        #expect(g.reached == [[2, 3, 4, 5, 6], [2, 3, 4, 5, 6], [2, 3, 4, 5, 6], [6]])
    }

    /// A dense layer under a dense output and above an rnn: only the injected steps reach it; the
    /// rnn then spreads each back to a.
    @Test func denseAboveRecurrent() throws {
        let g = try #require(UpdateGrid(spec: Self.spec([.rnn, .dense, .dense]), truncation: Truncation(tauB: 4, tauMax: 6),
                                        hasTarget: [true, false, true, false, true, false, true, true], step: 8))
        #expect(g.previousStep == 4 && g.windowStart == 3)
        #expect(g.injected == [5, 7, 8])
        #expect(g.reached == [[3, 4, 5, 6, 7, 8], [5, 7, 8], [5, 7, 8]])
    }

    /// Many-to-one (a target at the last step only), BPTT(2, 4) over 6 steps: the updates at 2
    /// and 4 inject nothing, so the first with a target is at 6; a = 3.
    @Test func manyToOne() throws {
        let g = try #require(UpdateGrid(spec: Self.spec([.rnn, .dense]), truncation: Truncation(tauB: 2, tauMax: 4),
                                        hasTarget: [false, false, false, false, false, true]))
        #expect(g.updateStep == 6 && g.previousStep == 4 && g.windowStart == 3)
        #expect(g.injected == [6])
        #expect(g.reached == [[3, 4, 5, 6], [6]])
        #expect(UpdateGrid(spec: Self.spec([.rnn, .dense]), truncation: Truncation(tauB: 2, tauMax: 4),
                           hasTarget: [false, false, false, false, false, true], step: 3) == nil, "3 is not an update step")
    }

    /// tau_b < tau_max: the update at 6 of BPTT(2, 5) injects at 5 and 6 and reaches back to 2;
    /// the last update (step 7, not a multiple of tau_b) injects at 7 and reaches back to 3.
    @Test func tauBBelowTauMax() throws {
        let all = [Bool](repeating: true, count: 7)
        let t = Truncation(tauB: 2, tauMax: 5)
        #expect(UpdateGrid.updateSteps(length: 7, truncation: t) == [2, 4, 6, 7])
        let first = try #require(UpdateGrid(spec: Self.spec([.rnn, .dense]), truncation: t, hasTarget: all))
        #expect(first.updateStep == 2 && first.windowStart == 1 && first.injected == [1, 2] && first.reached == [[1, 2], [1, 2]])
        let six = try #require(UpdateGrid(spec: Self.spec([.rnn, .dense]), truncation: t, hasTarget: all, step: 6))
        #expect(six.previousStep == 4 && six.windowStart == 2 && six.injected == [5, 6])
        #expect(six.reached == [[2, 3, 4, 5, 6], [5, 6]])
        let last = try #require(UpdateGrid(spec: Self.spec([.rnn, .dense]), truncation: t, hasTarget: all, step: 7))
        #expect(last.previousStep == 6 && last.windowStart == 3 && last.injected == [7] && last.reached == [[3, 4, 5, 6, 7], [7]])
    }

    /// SPEC 3.2: lag L reached by some errors iff tau_max >= L + 1, by all iff tau_max - tau_b >= L.
    @Test func dependencyReach() {
        #expect(UpdateGrid.reach(lag: 24, tauB: 5, tauMax: 5) == (false, false))
        #expect(UpdateGrid.reach(lag: 24, tauB: 5, tauMax: 25) == (true, false))
        #expect(UpdateGrid.reach(lag: 24, tauB: 5, tauMax: 29) == (true, true))
        #expect(UpdateGrid.reach(lag: 3, tauB: 1, tauMax: 4) == (true, true))
    }
}
