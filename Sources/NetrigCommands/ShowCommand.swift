import ArgumentParser
import NetrigCore

struct ShowCommand: NetrigCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one stored run: builds, boots, phases, comparison.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Run id.")
    var run: Int64

    func run(_ context: NetrigContext) async throws {
        let say = context.say(json: nil)
        guard let stored = try await context.openStore().loadRun(run) else { throw ValidationError("no run \(run) in \(context.storePath)") }
        say(ComparisonReport.header(stored), terminator: "")
        for group in try await context.openStore().groups(of: run) {
            let member = group.members.first { $0.run == run }
            say("  \(group.kind.rawValue) group \(group.id) '\(group.label)': \(member?.label ?? "") (runs "
                + group.members.map { "\($0.run)" }.joined(separator: ", ") + ")")
        }
        for line in stored.unreadable { say("UNREADABLE in the store: \(line)") }
        if let error = stored.error { say("error: \(error)") }
        let comparison = stored.boots.isEmpty ? nil : stored.comparison
        if let comparison { say(ComparisonReport.table(comparison), terminator: "") }
        if let verdict = stored.summary.verdict {
            say("verdict: \(verdict.rawValue): \(ComparisonReport.verdictMeaning(verdict, comparison: comparison))")
        }
        say("reproduce: \(ShellQuote.join(stored.reproducer))")
    }
}
