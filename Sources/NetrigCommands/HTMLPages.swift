import HTMLReport
import NetrigCore

/// The HTML site of a store, as `netrig report` and `netrig run` write it.
enum HTMLPages {
    /// Writes the index of the newest `limit` runs and the pages of `only` (all of them when nil).
    static func write(store: any RunQueries, output: String, limit: Int, only: Set<RunID>?) async throws -> [String] {
        var runs: [StoredRun] = []
        for summary in try await store.listRuns(limit: limit) {
            if let run = try await store.loadRun(summary.id) { runs.append(run) }
        }
        let pages = only.map { ids in runs.filter { ids.contains($0.summary.id) } }
        return try ReportSite(output: output).write(runs, pages: pages)
    }
}
