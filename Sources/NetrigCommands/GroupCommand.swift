import ArgumentParser
import NetrigCore

/// `netrig group ID`: the runs of a group (a matrix, and later a bisection or a night) with their verdicts
/// and the group's own. A verb of the composition root in one file: options, the context's store, text.
struct GroupCommand: NetrigCommand {
    static let configuration = CommandConfiguration(commandName: "group",
                                                    abstract: "Show a group of stored runs (a config/NIC matrix): each run's verdict and the group's.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Group id (netrig show RUN names a run's groups).")
    var group: Int64

    func run(_ context: NetrigContext) async throws {
        let say = context.say(json: nil)
        let store = try context.openStore()
        guard let found = try await store.group(group) else { throw ValidationError("no group \(group) in \(context.storePath)") }
        say("\(found.kind.rawValue) group \(found.id): \(found.label) (created \(found.createdAt))")
        var rows = [["run", "member", "status", "verdict", "config", "nic", "workload"]]
        var verdicts: [Verdict] = []
        for member in found.members {
            guard let run = try await store.loadRun(member.run) else {
                rows.append(["\(member.run)", member.label, "missing", "-", "-", "-", "-"])
                continue
            }
            let summary = run.summary
            if let verdict = summary.verdict { verdicts.append(verdict) }
            rows.append(["\(member.run)", member.label, summary.status.rawValue, summary.verdict?.rawValue ?? "-", summary.configName,
                         summary.nic, summary.workload])
        }
        say(ComparisonReport.align(rows), terminator: "")
        let complete = verdicts.count == found.members.count
        say("group verdict: " + (complete ? Verdict.combined(verdicts).rawValue : "not finished (\(verdicts.count) of \(found.members.count) runs have a verdict)"))
    }
}
