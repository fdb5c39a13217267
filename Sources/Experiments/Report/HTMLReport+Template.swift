import Foundation

/// The page around the sections: head, style, facts, the sorting script.
extension HTMLReport {
    // MARK: HTML

    func html() -> String {
        let counts = Dictionary(grouping: rows.compactMap { $0.status?.word }, by: { $0 }).mapValues(\.count)
        let wall = rows.compactMap(\.wallSeconds).reduce(0, +)
        var facts = "grid of \(experiment.gridSize) point\(experiment.gridSize == 1 ? "" : "s")"
        if !experiment.sweptKeys.isEmpty { facts += " over " + experiment.sweptKeys.map { "<code>\(Self.escape(Self.short($0)))</code>" }.joined(separator: " × ") }
        facts += " · \(counts[RunStatus.done.word] ?? 0) done"
        for s in [RunStatus.diverged(epoch: 0, reason: "").word, RunStatus.failed(reason: "").word] where (counts[s] ?? 0) > 0 { facts += " · <b class=\"bad\">\(counts[s]!) \(s)</b>" }
        if !experiment.skipped.isEmpty { facts += " · \(experiment.skipped.count) skipped (tau_b &gt; tau_max)" }
        facts += " · total training time \(DurationText.format(wall))"
        var body = """
            <h1>\(Self.escape(experiment.name))</h1>
            \(experiment.description.isEmpty ? "" : "<p class=\"desc\">\(Self.escape(experiment.description))</p>")
            <p class="facts">\(facts)</p>

            """
        body += learningCurves()
        body += sweepCharts()
        body += costChart()
        body += adaptiveWindowChart()
        body += gradCosChart()
        body += heatmaps()
        // A task with a known baseline or floor is judged by its loss against them, whatever its metric.
        if metricColumn != "final_val_loss", !lossReferences.isEmpty, header.contains("final_val_loss") { body += heatmaps(metric: "final_val_loss") }
        if header.contains("mean_grad_cos") { body += heatmaps(metric: "mean_grad_cos") }
        body += creditProfile()
        body += explainGrids()
        body += settingsTable()
        body += table()
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>rnn-exp report: \(Self.escape(experiment.name))</title>
            <style>
            body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f; max-width: 1180px; margin: 24px auto; padding: 0 20px; }
            h1 { font-size: 26px; margin: 0 0 6px; } h2 { font-size: 19px; margin: 30px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
            .desc { margin: 4px 0 8px; max-width: 900px; } .facts { color: #444; } .bad { color: #b00020; } .note { color: #555; font-size: 13px; }
            code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
            .charts { display: flex; flex-wrap: wrap; gap: 16px; } figure { margin: 0; } figcaption { font-size: 13px; color: #333; }
            .legend { display: flex; flex-direction: column; gap: 3px; font-size: 13px; margin: 6px 0; }
            .legend-row { display: flex; flex-wrap: wrap; align-items: center; gap: 2px 14px; } .legend-row b { min-width: 96px; } .legend span { white-space: nowrap; }
            .legend svg { vertical-align: middle; margin-right: 4px; } .legend svg.colourbar { margin-right: 14px; }
            h3 { font-size: 15px; margin: 14px 0 6px; } svg { max-width: 100%; height: auto; }
            .swatch { display: inline-block; width: 18px; height: 3px; vertical-align: middle; margin-right: 5px; }
            svg text { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
            table { border-collapse: collapse; font-size: 12.5px; } th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; white-space: nowrap; }
            th { background: #f4f4f6; cursor: pointer; position: sticky; top: 0; } td:first-child, th:first-child { text-align: left; }
            tr.diverged td, tr.failed td { background: #fdecee; } .tablewrap { overflow-x: auto; }
            @media print { body { max-width: none; margin: 0; } th { position: static; } .tablewrap { overflow: visible; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
            </style>
            </head>
            <body>
            \(body)
            <p class="note">Written by rnn-exp \(RNNExpVersion.string) on \(Self.today()). Sources: summary.csv, metrics.csv and runs/ in this folder.</p>
            <script>
            document.querySelectorAll("table.sortable th").forEach(function (th, col) {
              th.addEventListener("click", function () {
                var tbody = th.closest("table").tBodies[0], rows = Array.prototype.slice.call(tbody.rows);
                var dir = th.dataset.dir === "asc" ? -1 : 1; th.dataset.dir = dir === 1 ? "asc" : "desc";
                rows.sort(function (a, b) {
                  var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
                  var nx = parseFloat(x), ny = parseFloat(y);
                  if (!isNaN(nx) && !isNaN(ny)) return dir * (nx - ny);
                  return dir * x.localeCompare(y);
                });
                rows.forEach(function (r) { tbody.appendChild(r); });
              });
            });
            </script>
            </body>
            </html>

            """
    }

    static func today() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.string(from: Date())
    }
}
