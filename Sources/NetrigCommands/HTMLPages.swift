import HTMLReport
import NetrigCore

/// The HTML site of a store, as `netrig report` and `netrig run` write it.
enum HTMLPages {
    /// Writes the index of the newest `limit` runs (from the store's summaries) and the pages of `only`
    /// (of every listed run when nil), loading one run at a time.
    static func write(store: any RunQueries, output: String, limit: Int, only: Set<RunID>?) async throws -> [String] {
        let site = ReportSite(output: output)
        let summaries = try await store.listRuns(limit: limit)
        var written: [String] = []
        for id in only.map({ $0.sorted(by: >) }) ?? summaries.map(\.id) {
            if let run = try await store.loadRun(id) { written += try site.writePages(of: run) }
        }
        return [try site.writeIndex(summaries)] + written
    }
}
