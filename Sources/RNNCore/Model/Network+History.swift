/// The stored activations truncated BPTT carries from one update to the next inside a batch
/// (`BatchProgress`): `h` of every layer and the gates and cell of gated layers, for the steps
/// later windows reach back into. Values, not files: the run loop writes them.
extension Network {
    /// Columns of a gated layer's `aux` row that hold state (`auxWidth` less the float32 padding).
    func auxColumns(_ l: Int) -> Int {
        let layer = spec.layers[l]
        return layer.kind.traits.auxPerUnit * layer.units
    }

    /// `h.<l>` (steps, B, U) of every layer and `aux.<l>` (steps, B, gate and cell columns) of
    /// every gated layer, steps `start ... end` (all held in the workspace).
    func exportHistory(from start: Int, through end: Int) -> [String: [Double]] {
        var out: [String: [Double]] = [:]
        for (l, layer) in spec.layers.enumerated() {
            var values: [Double] = []
            values.reserveCapacity((end - start + 1) * lanes * layer.units)
            for m in start...end {
                let row = slot(h[l], l, m)
                for i in 0..<(lanes * layer.units) { values.append(Double(row[i])) }
            }
            out["h.\(l)"] = values
            let columns = auxColumns(l)
            guard auxWidth[l] > 0, columns > 0 else { continue }
            var gates: [Double] = []
            gates.reserveCapacity((end - start + 1) * lanes * columns)
            for m in start...end {
                let row = auxSlot(l, m)
                for lane in 0..<lanes {
                    for j in 0..<columns { gates.append(Double(row[lane * auxWidth[l] + j])) }
                }
            }
            out["aux.\(l)"] = gates
        }
        return out
    }

    /// Why `tensors` are not the history of `steps` steps of `lanes` lanes of this network, or nil.
    func historyProblem(_ tensors: [String: [Double]], lanes: Int, steps: Int) -> String? {
        var expected: [String: Int] = [:]
        for (l, layer) in spec.layers.enumerated() {
            expected["h.\(l)"] = steps * lanes * layer.units
            if auxWidth[l] > 0 && auxColumns(l) > 0 { expected["aux.\(l)"] = steps * lanes * auxColumns(l) }
        }
        for (name, count) in expected.sorted(by: { $0.key < $1.key }) where tensors[name]?.count != count {
            return "its stored activations \(name) hold \(tensors[name]?.count ?? 0) values, the batch needs \(count)"
        }
        if let extra = tensors.keys.sorted().first(where: { expected[$0] == nil }) {
            return "it holds \(extra), which this network does not carry"
        }
        return nil
    }

    /// Puts `exportHistory(from: start, through: end)` back into a workspace just `prepare`d for
    /// the same batch (`historyProblem` nil): slot 0 then holds step `start`.
    func restoreHistory(_ tensors: [String: [Double]], from start: Int, through end: Int) {
        precondition(end - start < slots, "history of \(end - start + 1) steps, workspace of \(slots) slots")
        origin = start
        for (l, layer) in spec.layers.enumerated() {
            if let values = tensors["h.\(l)"] {
                var k = 0
                for m in start...end {
                    let row = slot(h[l], l, m)
                    for i in 0..<(lanes * layer.units) { row[i] = Scalar(values[k]); k += 1 }
                }
            }
            let columns = auxColumns(l)
            guard auxWidth[l] > 0, columns > 0, let gates = tensors["aux.\(l)"] else { continue }
            var k = 0
            for m in start...end {
                let row = auxSlot(l, m)
                for lane in 0..<lanes {
                    for j in 0..<columns { row[lane * auxWidth[l] + j] = Scalar(gates[k]); k += 1 }
                }
            }
        }
    }
}
