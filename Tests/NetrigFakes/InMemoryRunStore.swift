import Foundation
import NetrigCore
import Synchronization

/// A whole store in memory, for tests of the engine and the commands. It keeps the store contract
/// (Tests/RunStoreTests/RunStoreContractTests.swift runs the same cases against it and SQLite): ids in
/// order, boot ids on samples, leaks and splats, a build replacing its side's, newest runs first.
public final class InMemoryRunStore: RunRecorder, RunQueries {
    private struct State {
        var runs: [RunID: StoredRun] = [:]
        var nextRun: RunID = 1
        var nextBoot: BootID = 1
        var groups: [RunGroupID: RunGroup] = [:]
        var nextGroup: RunGroupID = 1
        var resumed: Set<RunID> = []
    }
    private let state = Mutex(State())
    static let owner = RunOwner(host: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier)

    public init() {}

    /// The newest run as it would load (tests of one run); an empty run (id 0) when none was created.
    public var latest: StoredRun {
        guard let run = state.withLock({ $0.runs[$0.nextRun - 1] }) else {
            return StoredRun(summary: RunSummary(id: 0, startedAt: "", seriesTitle: "", treeName: "", baseCommit: "", configName: "", nic: "",
                                                 workload: "", status: .running, verdict: nil, failedPhase: nil),
                             plan: RunPlan(treeRequest: nil, baseRequest: nil, seriesPath: "", configName: "", nic: .virtioNet, workload: "",
                                           repetitions: 0, leakCheck: false, clock: nil, accelerator: nil, memoryMiB: 0, vcpus: 0, commandLine: []),
                             series: nil, applied: nil, phases: [], builds: [], boots: [], samples: [], leaks: [], splats: [], error: nil)
        }
        var loaded = run
        loaded.summary = run.listed
        return loaded
    }

    /// Whether `run` was taken up again with `resumeRun`.
    public func wasResumed(_ run: RunID = 1) -> Bool { state.withLock { $0.resumed.contains(run) } }

    private func update(_ run: RunID, _ body: (inout StoredRun) -> Void) throws {
        try state.withLock { state in
            guard var stored = state.runs[run] else {
                throw NetrigError(phase: .store, blame: .infrastructure, subject: "run \(run)", message: "no such run")
            }
            body(&stored)
            state.runs[run] = stored
        }
    }

    public func createRun(plan: RunPlan, startedAt: String) async throws -> RunID {
        state.withLock { state in
            let id = state.nextRun
            state.nextRun += 1
            state.runs[id] = StoredRun(
                summary: RunSummary(id: id, startedAt: startedAt, seriesTitle: "", treeName: "", baseCommit: "", configName: plan.configName,
                                    nic: plan.nic.rawValue, workload: plan.workload, status: .running, verdict: nil, failedPhase: nil,
                                    owner: Self.owner),
                plan: plan, series: nil, applied: nil, phases: [], builds: [], boots: [], samples: [], leaks: [], splats: [], error: nil)
            return id
        }
    }

    public func resumeRun(_ run: RunID) async throws {
        try update(run) {
            $0.summary.status = .running
            $0.summary.verdict = nil
            $0.summary.failedPhase = nil
            $0.summary.owner = Self.owner
            $0.error = nil
        }
        state.withLock { _ = $0.resumed.insert(run) }
    }

    public func recordTree(_ run: RunID, tree: KernelTree) async throws {
        try update(run) { $0.summary.treeName = tree.name; $0.summary.baseCommit = tree.baseCommit }
    }

    public func recordSeries(_ run: RunID, series: Series, applied: AppliedSeries?) async throws {
        try update(run) { $0.series = series; $0.applied = applied; $0.summary.seriesTitle = series.title }
    }

    public func recordEnvironment(_ run: RunID, _ environment: RunEnvironment) async throws {
        try update(run) { $0.environment = environment }
    }

    public func recordPhase(_ run: RunID, _ phase: PhaseRecord) async throws {
        try update(run) { $0.phases.append(phase) }
    }

    public func recordBuild(_ run: RunID, _ artifact: KernelArtifact) async throws {
        try update(run) { stored in
            stored.builds.removeAll { $0.side == artifact.side }
            stored.builds.append(artifact)
        }
    }

    public func recordPatchBuilds(_ run: RunID, _ builds: [PatchBuild]) async throws {
        try update(run) { $0.patchBuilds = builds }
    }

    public func recordConfigChanges(_ run: RunID, _ changes: [ConfigChange]) async throws {
        try update(run) { $0.configChanges = changes }
    }

    @discardableResult
    public func recordBoot(_ run: RunID, _ boot: BootRecord, samples: [Sample], collected: Collected) async throws -> BootID {
        let id = state.withLock { state in
            defer { state.nextBoot += 1 }
            return state.nextBoot
        }
        try update(run) { stored in
            var boot = boot
            boot.id = id
            stored.boots.append(boot)
            stored.samples += samples.map { var sample = $0; sample.boot = id; return sample }
            stored.leaks += collected.leaks.map { var leak = $0; leak.boot = id; return leak }
            stored.splats += collected.splats.map { var splat = $0; splat.boot = id; return splat }
        }
        return id
    }

    public func finishRun(_ run: RunID, status: RunStatus, verdict: Verdict, error: NetrigError?) async throws {
        try update(run) {
            $0.summary.status = status
            $0.summary.verdict = verdict
            $0.summary.failedPhase = error?.phase
            $0.error = error
        }
    }

    public func listRuns(limit: Int) async throws -> [RunSummary] {
        state.withLock { state in
            state.runs.keys.sorted(by: >).prefix(limit).map { state.runs[$0]!.listed }
        }
    }


    public func createGroup(kind: RunGroup.Kind, label: String, createdAt: String) async throws -> RunGroupID {
        state.withLock { state in
            let id = state.nextGroup
            state.nextGroup += 1
            state.groups[id] = RunGroup(id: id, kind: kind, label: label, createdAt: createdAt, members: [])
            return id
        }
    }

    public func addToGroup(_ group: RunGroupID, run: RunID, label: String) async throws {
        try state.withLock { state in
            guard state.groups[group] != nil, state.runs[run] != nil else {
                throw NetrigError(phase: .store, blame: .infrastructure, subject: "group \(group)", message: "no such group or run")
            }
            state.groups[group]!.members.append(RunGroup.Member(run: run, label: label))
        }
    }

    public func group(_ id: RunGroupID) async throws -> RunGroup? {
        state.withLock { $0.groups[id] }
    }

    public func groups(of run: RunID) async throws -> [RunGroup] {
        state.withLock { state in state.groups.keys.sorted().compactMap { state.groups[$0] }.filter { $0.members.contains { $0.run == run } } }
    }

    public func loadRun(_ id: RunID) async throws -> StoredRun? {
        state.withLock { $0.runs[id] }.map { run in var run = run; run.summary = run.listed; return run }
    }
}
