import ArgumentParser
import NetrigCore

struct RunsCommand: NetrigCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List stored runs, newest first.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "How many runs to list.")
    var limit: Int = 50

    func run(_ context: NetrigContext) async throws {
        let say = context.say(json: nil)
        let runs = try await context.openStore().listRuns(limit: limit)
        guard !runs.isEmpty else {
            say("no runs in \(context.storePath)")
            return
        }
        var rows = [["id", "started", "status", "verdict", "series", "tree", "base", "config", "nic", "workload"]]
        for run in runs {
            let status = switch run.status {
            case .failed, .interrupted: "\(run.status.rawValue) in \(run.failedPhase?.rawValue ?? "?")"
            case .running where !context.isAlive(run.owner): "interrupted"
            default: run.status.rawValue
            }
            rows.append([String(run.id), run.startedAt, status, run.verdict?.rawValue ?? "-", String(run.seriesTitle.prefix(48)),
                         run.treeName, String(run.baseCommit.prefix(12)), run.configName, run.nic, run.workload])
        }
        say(ComparisonReport.align(rows), terminator: "")
    }
}
