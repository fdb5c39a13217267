import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// One broken experiment file and the exact errors it must give (issue 5).
struct BrokenYAMLCase: CustomTestStringConvertible, Sendable {
    let id: String
    let yaml: String
    /// Each `line:column: message` (the file path is prepended).
    let expected: [String]
    var testDescription: String { id }
}



@Suite("Experiment files: located errors")
struct ConfigErrorTests {
    // Issue 5: syntax error, unknown key, wrong type, bad sweep path, tau_b > tau_max, missing
    // dataset file — each the exact `file:line:column: message`.
    static let cases: [BrokenYAMLCase] = [
        BrokenYAMLCase(id: "syntax error", yaml: "dataset: {kind: adding\nmodel: [\n",
                       expected: ["2:6: YAML syntax error: while parsing a flow mapping did not find expected ',' or '}'"]),
        BrokenYAMLCase(id: "unknown key with suggestion", yaml: validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, tau_maxx: 5}"),
                       expected: ["6:33: training.tau_maxx: unknown key; did you mean tau_max?"]),
        BrokenYAMLCase(id: "unknown top-level key", yaml: validBase + "sweeep: {}\n",
                       expected: ["7:1: sweeep: unknown key; did you mean sweep?"]),
        BrokenYAMLCase(id: "wrong type", yaml: validBase.replacingOccurrences(of: "epochs: 1", with: "epochs: ten"),
                       expected: ["6:20: training.epochs: expected an integer, found 'ten'"]),
        BrokenYAMLCase(id: "out of range", yaml: validBase.replacingOccurrences(of: "units: 4", with: "units: 0"),
                       expected: ["4:26: model.layers.0.units: must be at least 1, found 0"]),
        BrokenYAMLCase(id: "huge units", yaml: validBase.replacingOccurrences(of: "units: 4", with: "units: 1e12"),
                       expected: ["4:26: model.layers.0.units: 1e12 is too large (at most 65536)"]),
        BrokenYAMLCase(id: "bad sweep path (index)", yaml: validBase + "sweep:\n  model.layers.5.units: [1, 2]\n",
                       expected: ["8:3: model.layers.5: index 5 is out of range: model.layers has 2 items"]),
        BrokenYAMLCase(id: "bad sweep path (key)", yaml: validBase + "sweep:\n  training.tau_mx: [1, 2]\n",
                       expected: ["8:3: training.tau_mx: unknown key; did you mean tau_max?"]),
        BrokenYAMLCase(id: "sweep value not a list", yaml: validBase + "sweep:\n  training.seed: 3\n",
                       expected: ["8:18: sweep.training.seed: expected a list of values like [1, 2, 3], found '3'"]),
        BrokenYAMLCase(id: "tau_b > tau_max", yaml: validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, tau_max: 2, tau_b: 3}"),
                       expected: ["6:52: training.tau_b: tau_b (3) is larger than tau_max (2): errors would not reach their own step"]),
        BrokenYAMLCase(id: "missing dataset file", yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: text, path: nope.txt}"),
                       expected: ["1:29: dataset.path: file not found: nope.txt (looked for DIR/nope.txt)"]),
        BrokenYAMLCase(id: "softmax with mse", yaml: validBase.replacingOccurrences(of: "activation: identity}", with: "activation: softmax}"),
                       expected: ["5:43: model.layers.1.activation: softmax output is paired with cross-entropy, not mse"]),
        BrokenYAMLCase(id: "stream with full tau_max", yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: sine, train: 50}")
                        .replacingOccurrences(of: "batch: 4}", with: "batch: 4, tau_max: full}"),
                       expected: ["6:42: training.tau_max: a sine stream has no sequence start to go back to: give a finite tau_max"]),
        // Issue 24: "an echo stream", not "a echo stream".
        BrokenYAMLCase(id: "echo stream with full tau_max", yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: echo, train: 50}")
                        .replacingOccurrences(of: "units: 1, activation: identity", with: "units: 2, activation: softmax")
                        .replacingOccurrences(of: "batch: 4}", with: "batch: 4, tau_max: full}"),
                       expected: ["6:42: training.tau_max: an echo stream has no sequence start to go back to: give a finite tau_max"]),
        // Issue 22: online algorithms (SPEC 3.3) truncate nothing and suit some stacks only.
        BrokenYAMLCase(id: "online algorithm with tau_max", yaml: validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, algorithm: rtrl, tau_max: 5}"),
                       expected: ["6:59: training.tau_max: rtrl is an online algorithm: it carries the influence forward and truncates nothing; leave tau_max out (tau_b sets the update interval, default 1)"]),
        BrokenYAMLCase(id: "rflo on a gated layer", yaml: validBase.replacingOccurrences(of: "type: rnn, units: 4, activation: tanh", with: "type: lstm, units: 4")
                        .replacingOccurrences(of: "batch: 4}", with: "batch: 4, algorithm: rflo}"),
                       expected: ["6:44: training.algorithm: layer 0: rflo supports rnn and indrnn layers only, not lstm"]),
        BrokenYAMLCase(id: "rflo_decay without rflo", yaml: validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, algorithm: uoro, rflo_decay: 0.5}"),
                       expected: ["6:62: training.rflo_decay: rflo_decay applies to algorithm: rflo only"]),
        BrokenYAMLCase(id: "unknown algorithm", yaml: validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, algorithm: rtlr}"),
                       expected: ["6:44: training.algorithm: unknown algorithm 'rtlr'; did you mean rtrl?"]),
        // Issue 14: the reference horizon of gradient diagnostics.
        BrokenYAMLCase(id: "diagnostics: full reference on a stream", yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: sine, train: 50}")
                        .replacingOccurrences(of: "batch: 4}", with: "batch: 4, tau_max: 5}\ndiagnostics: {gradient_every: 2, reference_tau_max: full}"),
                       expected: ["7:53: diagnostics.reference_tau_max: a sine stream has no sequence start to go back to: give a number >= tau_max"]),
        BrokenYAMLCase(id: "diagnostics: reference below tau_max", yaml: validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, tau_max: 5}\ndiagnostics: {credit_lags: 4, reference_tau_max: 3}"),
                       expected: ["7:50: diagnostics.reference_tau_max: 3 is below tau_max 5: the reference must reach at least as far as the update"]),
        BrokenYAMLCase(id: "diagnostics: unknown key", yaml: validBase + "diagnostics: {gradient_evry: 2}\n",
                       expected: ["7:15: diagnostics.gradient_evry: unknown key; did you mean gradient_every?"]),
        BrokenYAMLCase(id: "wrong output units", yaml: validBase.replacingOccurrences(of: "units: 1, activation: identity", with: "units: 3, activation: identity"),
                       expected: ["5:28: model.layers.1.units: the dataset has 1 output (adding); leave units out or set 1"]),
        BrokenYAMLCase(id: "several errors at once", yaml: """
            dataset: {kind: copyy}
            model:
              layers: [{type: lstm, units: 4, activation: tanh}]
            training: {epochs: -1, optimizer: {name: adam, lr: 0}}

            """,
                       expected: ["1:17: dataset.kind: unknown dataset kind 'copyy'; did you mean copy?",
                                  "3:47: model.layers.0.activation: lstm layers have fixed gate nonlinearities: remove activation",
                                  "4:20: training.epochs: must be at least 1, found -1",
                                  "4:52: training.optimizer.lr: must be greater than 0, found 0"]),
        BrokenYAMLCase(id: "activation on a gru layer", yaml: validBase.replacingOccurrences(of: "{type: rnn, units: 4, activation: tanh}", with: "{type: gru, units: 4, activation: relu}"),
                       expected: ["4:41: model.layers.0.activation: gru layers have fixed gate nonlinearities: remove activation"]),
        BrokenYAMLCase(id: "lstm as the softmax output layer", yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: copy, symbols: 3, length: 2, delay: 1, train: 8, validation: 4}")
                        .replacingOccurrences(of: "    - {type: dense, units: 1, activation: identity}\n", with: "    - {type: lstm}\n")
                        .replacingOccurrences(of: "training:", with: "  loss: cross-entropy\ntraining:"),
                       expected: ["5:14: model.layers.1.type: cross-entropy needs a softmax output layer; an lstm layer cannot be last (add {type: dense, activation: softmax} after it)"]),
        BrokenYAMLCase(id: "alias bomb", yaml: """
            a: &a [x, x, x, x, x, x, x, x, x, x]
            b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
            c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
            d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
            e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
            f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]

            """, expected: ["1:1: the document expands to more than 100000 values (aliases?)"]),
        BrokenYAMLCase(id: "nested beyond 64 levels", yaml: "a: " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "\n",
                       expected: ["1:67: the document is nested more than 64 levels deep"]),
        BrokenYAMLCase(id: "a 1 GB sequence length", yaml: validBase.replacingOccurrences(of: "length: 6", with: "length: 1000000000"),
                       expected: ["1:33: dataset.length: 1000000000 is too large (at most 1000000)"]),
        BrokenYAMLCase(id: "deeply nested", yaml: "a: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n",
                       expected: ["1:5: the document is nested too deeply (more than 64 levels are refused)"]),
        BrokenYAMLCase(id: "huge number", yaml: validBase.replacingOccurrences(of: "epochs: 1", with: "epochs: 1e400"),
                       expected: ["6:20: training.epochs: expected an integer, found '1e400'"]),
        BrokenYAMLCase(id: "not a mapping", yaml: "- just\n- a list\n",
                       expected: ["1:1: the document must be a mapping of keys (name:, dataset:, model:, training:), not a list"]),
        // Optimizer parameters (OptimizerName.parameters): which apply, and their ranges.
        BrokenYAMLCase(id: "optimizer: a key another optimizer takes, a bound",
                       yaml: validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, optimizer: {name: adam, momentum: 0.5, beta2: 1}}"),
                       expected: ["6:57: training.optimizer.momentum: adam has no momentum (it takes lr, beta1, beta2, eps, weight_decay)",
                                  "6:79: training.optimizer.beta2: must be at most 0.999999999, found 1"]),
        BrokenYAMLCase(id: "optimizer: nesterov on rmsprop, an open bound",
                       yaml: validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, optimizer: {name: rmsprop, nesterov: true, eps: 0}}"),
                       expected: ["6:60: training.optimizer.nesterov: rmsprop has no nesterov (it takes lr, alpha, eps, momentum, weight_decay)",
                                  "6:70: training.optimizer.nesterov: Nesterov momentum needs momentum > 0",
                                  "6:81: training.optimizer.eps: must be greater than 0, found 0"]),
        // echo (SPEC 4): P(y = 1) = base + Σ weights·x must stay within [0, 1] for every x in {0, 1}^k.
        BrokenYAMLCase(id: "echo: P(y = 1) above 1",
                       yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: echo, lags: [1, 2], weights: [0.5, 0.25]}")
                        .replacingOccurrences(of: "units: 1, activation: identity", with: "units: 2, activation: softmax"),
                       expected: ["1:46: dataset.weights: P(y = 1) = base + Σ weights·x ranges over [0.5, 1.25] for inputs x in {0, 1}; it must stay within [0, 1]"]),
        BrokenYAMLCase(id: "echo: P(y = 1) below 0",
                       yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: echo, weights: [-0.5, -0.25], base: 0.5}")
                        .replacingOccurrences(of: "units: 1, activation: identity", with: "units: 2, activation: softmax"),
                       expected: ["1:32: dataset.weights: P(y = 1) = base + Σ weights·x ranges over [-0.25, 0.5] for inputs x in {0, 1}; it must stay within [0, 1]"]),
        BrokenYAMLCase(id: "echo: base alone pushes P(y = 1) above 1",
                       yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: echo, base: 0.9}")
                        .replacingOccurrences(of: "units: 1, activation: identity", with: "units: 2, activation: softmax"),
                       expected: ["1:29: dataset.base: P(y = 1) = base + Σ weights·x ranges over [0.65, 1.4] for inputs x in {0, 1}; it must stay within [0, 1]"]),
        BrokenYAMLCase(id: "echo: one weight per lag",
                       yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: echo, lags: [1, 2, 3]}")
                        .replacingOccurrences(of: "units: 1, activation: identity", with: "units: 2, activation: softmax"),
                       expected: ["1:29: dataset.lags: weights has 2 values but lags has 3: give one weight per lag"]),
        BrokenYAMLCase(id: "echo: bad list items",
                       yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: echo, lags: [0, 3], weights: [0.1, x]}")
                        .replacingOccurrences(of: "units: 1, activation: identity", with: "units: 2, activation: softmax"),
                       expected: ["1:30: dataset.lags.0: must be at least 1, found 0", "1:52: dataset.weights.1: expected a number, found 'x'"]),
        BrokenYAMLCase(id: "echo: stream shorter than a lag",
                       yaml: validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: echo, lags: [3, 30], train: 20}")
                        .replacingOccurrences(of: "units: 1, activation: identity", with: "units: 2, activation: softmax"),
                       expected: ["1:45: dataset.train: the training stream (20 steps) must be longer than the largest lag (30): steps before it have no target"]),
    ]

    @Test(arguments: cases)
    func brokenFilesGiveExactLocatedErrors(_ c: BrokenYAMLCase) {
        let dir = scratchDirectory("cfg")
        let path = "\(dir)/exp.yaml"
        writeFile(path, c.yaml)
        switch Planner.plan(files: [path]) {
        case .success: Issue.record("no error")
        case .failure(let e):
            let expected = c.expected.map { "\(path):\($0.replacingOccurrences(of: "DIR", with: dir))" }
            #expect(e.errors.map(\.description) == expected)
        }
    }

    /// Issue 24: a csv dataset without target_type under a softmax output says target_type
    /// defaults to real and how to declare class targets (it blamed the softmax layer).
    @Test func csvClassesWithoutTargetTypeNameTargetType() {
        let dir = scratchDirectory("cfg")
        let path = "\(dir)/exp.yaml"
        writeFile("\(dir)/c.csv", "id,x,y\na,1,\na,0,1\nb,1,\nb,0,0\n")
        writeFile(path, validBase.replacingOccurrences(of: "{kind: adding, length: 6, train: 8, validation: 4}", with: "{kind: csv, path: c.csv, sequence: id, inputs: x, targets: y}")
            .replacingOccurrences(of: "units: 1, activation: identity", with: "activation: softmax"))
        switch Planner.plan(files: [path]) {
        case .success: Issue.record("no error")
        case .failure(let e):
            #expect(e.errors.map(\.description) == ["\(path):1:10: dataset.target_type: target_type defaults to real (mse on the target values), "
                + "which does not fit a softmax output or cross-entropy; for class ids 0 … C-1 in the target column set target_type: class (binary for 0/1 targets)"])
        }
    }

    @Test func setOverridesAreValidatedToo() {
        let dir = scratchDirectory("cfg")
        let path = "\(dir)/exp.yaml"
        writeFile(path, validBase)
        switch Planner.plan(files: [path], overrides: ["training.batch=0"]) {
        case .success: Issue.record("no error")
        case .failure(let e):
            #expect(e.errors.map(\.description) == ["--set training.batch=0:1:16: training.batch: must be at least 1, found 0"])
        }
        guard case .success(let plans) = Planner.plan(files: [path], overrides: ["training.tau_max=3", "sweep.training.seed=[1, 2]"]) else {
            Issue.record("valid overrides rejected"); return
        }
        #expect(plans[0].runs.map { $0.config.tauMax } == [3, 3])
        #expect(plans[0].runs.map { $0.config.seed } == [1, 2])
    }
}
