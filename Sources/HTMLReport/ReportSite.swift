import Foundation
import NetrigCore

/// Writes the static site: `index.html`, `run-ID.html` and `compare-ID.html` per run, and the files the
/// pages link to (build logs, effective configs, console logs) copied under `files/ID/`, so the directory
/// can be published as it is.
public struct ReportSite: Sendable {
    public var output: String

    public init(output: String) {
        self.output = output
    }

    /// Renders the index of `runs` (newest first) and the pages of `pages` (default: all of them); returns
    /// the pages written.
    @discardableResult
    public func write(_ runs: [StoredRun], pages: [StoredRun]? = nil) throws -> [String] {
        var written: [String] = []
        for run in pages ?? runs { written += try writePages(of: run) }
        return [try writeIndex(runs.map(\.listed))] + written
    }

    /// A run's page and its comparison page, with the files they link to.
    public func writePages(of run: StoredRun) throws -> [String] {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let files = try copyFiles(of: run)
        try write(Pages.run(run, files: files), to: Pages.runPage(run.summary.id))
        try write(Pages.comparison(run), to: Pages.comparisonPage(run.summary.id))
        return [Pages.runPage(run.summary.id), Pages.comparisonPage(run.summary.id)]
    }

    /// The index of the store's runs, from their summaries (newest first).
    public func writeIndex(_ summaries: [RunSummary]) throws -> String {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try write(Pages.index(summaries), to: "index.html")
        return "index.html"
    }

    func write(_ text: String, to name: String) throws {
        try text.write(toFile: output + "/" + name, atomically: true, encoding: .utf8)
    }

    /// Copies what a run's pages link to; a file that no longer exists is left out (the page says "-").
    func copyFiles(of run: StoredRun) throws -> RunFiles {
        let directory = "files/\(run.summary.id)"
        try FileManager.default.createDirectory(atPath: output + "/" + directory, withIntermediateDirectories: true)
        func copy(_ source: String?, as name: String) -> String? {
            guard let source, FileManager.default.fileExists(atPath: source) else { return nil }
            let target = output + "/" + directory + "/" + name
            try? FileManager.default.removeItem(atPath: target)
            do { try FileManager.default.copyItem(atPath: source, toPath: target) } catch { return nil }
            return directory + "/" + name
        }
        var files = RunFiles()
        files.buildLogs = run.builds.map { copy($0.buildLog, as: "\($0.side.rawValue)-build.log.txt") }
        files.configs = run.builds.map { copy($0.configPath, as: "\($0.side.rawValue).config.txt") }
        files.consoleLogs = run.boots.enumerated().map { index, boot in
            copy(boot.consoleLog, as: "boot-\(index + 1)-\(boot.side.rawValue)\(boot.kmemleak ? "-kmemleak" : "")-console.log.txt")
        }
        files.patchLogs = run.patchBuilds.map { copy($0.log, as: "patch-\($0.patch)-build.log.txt") }
        return files
    }
}
