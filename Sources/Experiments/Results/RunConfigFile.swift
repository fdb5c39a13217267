/// A run's `config.yaml` (SPEC 3.3, issue 29 bug 2): the run's resolved configuration as a valid
/// experiment file that trains the run again, with the same run id.
///
/// The run id hashes the canonical YAML (`ExperimentConfig.canonicalYAML`), which never changes so
/// that finished runs keep their ids; it writes some keys where they mean their default or do not
/// apply (`tau_b: length`, `clip_norm: null`, an online run's `tau_max: full`), which an
/// experiment file may not say. The file is the canonical text without those lines (`body`),
/// between a header comment and a `sweep:` block that gives each swept key this run's value only,
/// so that its run id is the grid's (`tau_max=5,seed=1-3fa9c2`, not `run-3fa9c2`). Data paths stay
/// relative to the experiment file's folder, as in the hash: a copy of the file beside the
/// experiment file reproduces the run.
public enum RunConfigFile {
    /// The text of `config.yaml` for run `id` with canonical YAML `canonical` and swept values
    /// `swept` (as written; empty for a key the run does not take).
    public static func text(id: String, canonical: String, swept: [(key: String, text: String)]) -> String {
        var lines = [
            "# rnn-exp run \(id): its resolved configuration (every default filled in), a valid experiment file.",
            "# Beside the experiment file (data paths are relative to its folder) it trains this run again, same id.",
        ]
        lines.append(body(canonical))
        let point = swept.filter { !$0.text.isEmpty }
        if !point.isEmpty {
            lines.append("sweep:  # this run's point of the grid (one value per swept key: the run id names them)")
            for (key, text) in point { lines.append("  \(key): [\(text)]") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The canonical YAML without the lines an experiment file may not say: `tau_b: length`,
    /// `clip_norm: null`, and `tau_max: full` where the algorithm is an online one. A one-to-one
    /// map (each line left out is the only text its key can have there).
    public static func body(_ canonical: String) -> String {
        let lines = canonical.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let training = lines.firstIndex(of: "training:") else { return canonical.hasSuffix("\n") ? String(canonical.dropLast()) : canonical }
        var end = training + 1
        while end < lines.count, lines[end].hasPrefix("  ") { end += 1 }
        let section = lines[(training + 1)..<end]
        let online = section.contains { line in
            line.hasPrefix("  algorithm: ") && AlgorithmName(rawValue: String(line.dropFirst("  algorithm: ".count)))?.online != nil
        }
        let kept = section.filter { line in
            !(line == "  clip_norm: null" || line.hasPrefix("  tau_b: length") || (online && line == "  tau_max: full"))
        }
        var out = Array(lines[...training]) + kept + Array(lines[end...])
        while out.last == "" { out.removeLast() }
        return out.joined(separator: "\n")
    }

    /// The body of a saved `config.yaml`: of this format (header comments and `sweep:` block
    /// dropped), or of an earlier rnn-exp's, which wrote the canonical text itself. Two runs have
    /// the same body exactly when they have the same canonical configuration.
    public static func body(ofSaved text: String) -> String {
        guard text.hasPrefix("# rnn-exp run ") else { return body(text) }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while let first = lines.first, first.hasPrefix("#") { lines.removeFirst() }
        if let sweep = lines.firstIndex(where: { $0.hasPrefix("sweep:") }) { lines.removeSubrange(sweep...) }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}

extension PlannedRun {
    /// The text of this run's `config.yaml` (`RunConfigFile`).
    public var configFile: String { RunConfigFile.text(id: id, canonical: canonical, swept: swept) }

    /// Whether a saved `config.yaml` is this run's: this format, or an earlier rnn-exp's (the
    /// canonical text).
    func isConfiguration(_ saved: String) -> Bool { saved == configFile || saved == canonical }
}
