import ArgumentParser
import NetrigCore

struct ReportCommand: NetrigCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write static HTML pages of the stored runs: an index, a page per run and per comparison.",
        discussion: "netrig run also refreshes the pages beside its store (html/ next to the store file) after each run.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Directory to write the pages into (default: html/ beside the store).")
    var out: String?

    @Option(help: "How many of the newest runs to include.")
    var limit: Int = 200

    func run(_ context: NetrigContext) async throws {
        let output = out ?? context.pagesDirectory
        let written = try await HTMLPages.write(store: context.openStore(), output: output, limit: limit, only: nil)
        context.say(json: nil)("wrote \(written.count) pages to \(output); open \(output)/index.html")
    }
}
