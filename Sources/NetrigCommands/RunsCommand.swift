import ArgumentParser
import NetrigCore
import RunStore

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List stored runs, newest first.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "How many runs to list.")
    var limit: Int = 50

    func run() async throws {
        let store = try SQLiteRunStore(path: global.storePath)
        let runs = try await store.listRuns(limit: limit)
        guard !runs.isEmpty else {
            print("no runs in \(global.storePath)")
            return
        }
        var rows = [["id", "started", "status", "verdict", "series", "tree", "base", "config", "nic", "workload"]]
        for run in runs {
            let status = switch run.status {
            case .failed, .interrupted: "\(run.status.rawValue) in \(run.failedPhase?.rawValue ?? "?")"
            case .running where !RunLiveness.isAlive(run.owner): "interrupted"
            default: run.status.rawValue
            }
            rows.append([String(run.id), run.startedAt, status, run.verdict?.rawValue ?? "-", String(run.seriesTitle.prefix(48)),
                         run.treeName, String(run.baseCommit.prefix(12)), run.configName, run.nic, run.workload])
        }
        print(ComparisonReport.align(rows), terminator: "")
    }
}

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one stored run: builds, boots, phases, comparison.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Run id.")
    var run: Int64

    func run() async throws {
        let store = try SQLiteRunStore(path: global.storePath)
        guard let stored = try await store.loadRun(run) else { throw ValidationError("no run \(run) in \(global.storePath)") }
        print(ComparisonReport.header(stored), terminator: "")
        if let error = stored.error { print("error: \(error)") }
        if !stored.samples.isEmpty || !stored.leaks.isEmpty || !stored.splats.isEmpty {
            print(ComparisonReport.table(stored.comparison), terminator: "")
        }
        if let verdict = stored.summary.verdict {
            print("verdict: \(verdict.rawValue): \(ComparisonReport.verdictMeaning(verdict, comparison: stored.boots.isEmpty ? nil : stored.comparison))")
        }
        print("reproduce: \(ShellQuote.join(stored.reproducer))")
    }
}
