import Foundation
import RNNTestSupport
import Testing
@testable import Experiments

/// One experiment document and the run ids it must keep.
struct PinnedRunIDCase: CustomTestStringConvertible, Sendable {
    let id: String
    let yaml: String
    let runIDs: [String]
    var testDescription: String { id }
}

/// Run ids hash the canonical YAML, so finished runs are found again only if every kind writes the
/// same canonical text. These ids were printed by `rnn-exp plan` before the dataset and optimizer
/// descriptors (commit 19062ae); every dataset kind and optimizer is covered.
@Suite("Run ids stay stable")
struct RunIDStabilityTests {
    static let dataFiles: [String: String] = [
        "data/seq.csv": "id,x1,x2,y\na,1,2,\na,0,1,1\nb,1,1,\nb,2,2,0\nc,1,1,2\nd,0,0,1\n",
        "data/t.txt": "In the beginning God created the heaven and the earth.\n",
        "data/val.csv": "id,x1,x2,y\nv,1,2,1\n",
    ]

    static let cases: [PinnedRunIDCase] = [
        PinnedRunIDCase(id: "count", yaml: "name: pin-count\ndataset: {kind: count-ones}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\n",
                        runIDs: ["run-beed6e"]),
        PinnedRunIDCase(id: "bin", yaml: "name: pin-bin\ndataset: {kind: binary-addition, bits: 5}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\nsweep:\n  dataset.bits: [3, 4]\n",
                        runIDs: ["bits=3-88f82e", "bits=4-fc1fb9"]),
        PinnedRunIDCase(id: "add", yaml: "name: pin-add\ndataset: {kind: adding, train: 30}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\n",
                        runIDs: ["run-a64623"]),
        PinnedRunIDCase(id: "copy", yaml: "name: pin-copy\ndataset: {kind: copy, symbols: 4, delay: 3}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\nsweep:\n  dataset.length: [2, 3]\n  dataset.delay: [0, 5]\n",
                        runIDs: ["length=2,delay=0-cbeaf3", "length=2,delay=5-1d73bf", "length=3,delay=0-22103d", "length=3,delay=5-5afb8e"]),
        PinnedRunIDCase(id: "sine", yaml: "name: pin-sine\ndataset: {kind: sine, noise: 1e-3, waves: 2}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\nsweep:\n  dataset.noise: [0, 0.10, 1e-2]\n",
                        runIDs: ["noise=0-1f582d", "noise=0.10-b46a75", "noise=1e-2-c9b0d8"]),
        PinnedRunIDCase(id: "reber", yaml: "name: pin-reber\ndataset: {kind: reber}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\nsweep:\n  dataset.embedded: [true, false]\n",
                        runIDs: ["embedded=true-6fe906", "embedded=false-cc386f"]),
        PinnedRunIDCase(id: "random", yaml: "name: pin-random\ndataset: {kind: random, inputs: 3, classes: 5, train: 100, validation: 7}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\n",
                        runIDs: ["run-430f44"]),
        PinnedRunIDCase(id: "text", yaml: "name: pin-text\ndataset: {kind: text, path: data/t.txt, train: 40}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\n",
                        runIDs: ["run-7fd1dc"]),
        PinnedRunIDCase(id: "csv", yaml: "name: pin-csv\ndataset: {kind: csv, path: data/seq.csv, sequence: id, inputs: [x1, x2], targets: y, target_type: class}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\n",
                        runIDs: ["run-a21744"]),
        PinnedRunIDCase(id: "csv2", yaml: "name: pin-csv2\ndataset: {kind: csv, path: data/seq.csv, sequence: id, inputs: x1, targets: [y], validation_path: data/val.csv, train: 2}\nmodel:\n  layers:\n    - {type: rnn, units: 4, activation: tanh}\n    - {type: dense}\ntraining: {epochs: 1, batch: 2, tau_max: 5}\n",
                        runIDs: ["run-48b88b"]),
        PinnedRunIDCase(id: "sgd", yaml: "name: pin-sgd\ndataset: {kind: count-ones}\nmodel:\n  layers: [{type: rnn, units: 4}, {type: dense}]\ntraining:\n  optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 1e-4}\n",
                        runIDs: ["run-3d227e"]),
        PinnedRunIDCase(id: "adam", yaml: "name: pin-adam\ndataset: {kind: count-ones}\nmodel:\n  layers: [{type: rnn, units: 4}, {type: dense}]\ntraining:\n  optimizer: {name: adam, beta1: 0.8, beta2: 0.99, eps: 1e-6}\n",
                        runIDs: ["run-9decca"]),
        PinnedRunIDCase(id: "rmsprop", yaml: "name: pin-rmsprop\ndataset: {kind: count-ones}\nmodel:\n  layers: [{type: rnn, units: 4}, {type: dense}]\ntraining:\n  optimizer: {name: rmsprop, alpha: 0.9, momentum: 0.5}\nsweep:\n  training.optimizer.lr: [0.1, 1e-3]\n",
                        runIDs: ["lr=0.1-acab58", "lr=1e-3-206756"]),
        // echo is new with the descriptors: its id pins the canonical text of its lists.
        PinnedRunIDCase(id: "echo", yaml: "name: pin-echo\ndataset: {kind: echo, lags: [2, 5], weights: [0.25, 0.5], base: 0.1, train: 300}\nmodel:\n  layers: [{type: rnn, units: 4}, {type: dense}]\ntraining: {tau_max: 8}\n",
                        runIDs: ["run-95dccc"]),
    ]

    @Test(arguments: cases)
    func runIDsAreUnchanged(_ c: PinnedRunIDCase) throws {
        let dir = scratchDirectory("pin")
        for (path, text) in Self.dataFiles { writeFile("\(dir)/\(path)", text) }
        let path = "\(dir)/\(c.id).yaml"
        writeFile(path, c.yaml)
        switch Planner.plan(files: [path]) {
        case .success(let plans): #expect(plans[0].runs.map(\.id) == c.runIDs)
        case .failure(let e): Issue.record("\(e)")
        }
    }

    @Test func echoCanonicalYAMLWritesItsLists() throws {
        let dir = scratchDirectory("pin")
        let path = "\(dir)/echo.yaml"
        writeFile(path, "dataset: {kind: echo, lags: 4, weights: [1e-1]}\nmodel:\n  layers: [{type: rnn, units: 4}, {type: dense}]\ntraining: {tau_max: 8}\n")
        guard case .success(let plans) = Planner.plan(files: [path]) else { Issue.record("rejected"); return }
        let yaml = plans[0].runs[0].config.canonicalYAML()
        #expect(yaml.contains("dataset:\n  kind: echo\n  train: 10000\n  validation: 1000\n  lags: [4]\n  weights: [0.1]\n  base: 0.5\nmodel:\n"))
    }
}
