import ArgumentParser
import Foundation
import HTMLReport
import NetrigCore
import RunStore

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write static HTML pages of the stored runs: an index, a page per run and per comparison.",
        discussion: "netrig run also refreshes the pages beside its store (html/ next to the store file) after each run.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Directory to write the pages into (default: html/ beside the store).")
    var out: String?

    @Option(help: "How many of the newest runs to include.")
    var limit: Int = 200

    func run() async throws {
        let store = try SQLiteRunStore(path: global.storePath)
        let output = out ?? HTMLPages.defaultDirectory(store: global.storePath)
        let written = try await HTMLPages.write(store: store, output: output, limit: limit, only: nil)
        print("wrote \(written.count) pages to \(output); open \(output)/index.html")
    }
}

/// The HTML site of a store, as `netrig report` and `netrig run` write it.
enum HTMLPages {
    static func defaultDirectory(store: String) -> String {
        (store as NSString).deletingLastPathComponent + "/html"
    }

    /// Writes the index of the newest `limit` runs and the pages of `only` (all of them when nil).
    static func write(store: SQLiteRunStore, output: String, limit: Int, only: Set<RunID>?) async throws -> [String] {
        var runs: [StoredRun] = []
        for summary in try await store.listRuns(limit: limit) {
            if let run = try await store.loadRun(summary.id) { runs.append(run) }
        }
        let pages = only.map { ids in runs.filter { ids.contains($0.summary.id) } }
        return try ReportSite(output: output).write(runs, pages: pages)
    }
}
