import Foundation
import GRDB
import NetrigFakes
import Testing
@testable import NetrigCore
@testable import RunStore

/// Every store implementation: what the engine, the commands and the pages rely on. Each case runs
/// against the in-memory fake and SQLite; a PostgreSQL store joins `StoreMaker` and must pass them all.
enum StoreMaker: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, sqlite

    var testDescription: String { rawValue }

    func make() throws -> (store: any RunStorage, cleanup: @Sendable () -> Void) {
        switch self {
        case .memory:
            return (InMemoryRunStore(), {})
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-contract-\(UUID().uuidString)").path
            return (try SQLiteRunStore(path: directory + "/runs.sqlite"), { try? FileManager.default.removeItem(atPath: directory) })
        }
    }
}

@Suite struct RunStoreContractTests {
    static let plan = RunPlan(treeRequest: nil, baseRequest: nil, seriesPath: "s.mbox", configName: "default", nic: .vmxnet3,
                              workload: "msg_zerocopy", repetitions: 2, leakCheck: true, clock: .virtual, accelerator: nil,
                              memoryMiB: 1024, vcpus: 2, commandLine: ["netrig", "run", "--nic", "vmxnet3"], topology: .pair)
    static let series = Series(title: "<b>html</b> subject", revision: 2, baseCommit: nil,
                               patches: [Patch(index: 1, total: 2, subject: "p", author: "a", mail: "m", diffHash: "h"),
                                         Patch(index: 2, total: 2, subject: "q", author: "a", mail: "m", diffHash: "i")], source: "s.mbox")
    static let workload = WorkloadDefinition(name: "msg_zerocopy", summary: "s", topologies: [.loop], nics: [.vmxnet3], requiredSymbols: [],
                                             programs: [], duration: 4, timeout: .seconds(60), server: [], client: ["true"],
                                             modes: [WorkloadMode(name: "copy", clientArguments: [])], metrics: [], unsupported: [])

    static func boot(_ side: Side, kmemleak: Bool, round: Int = 1, guest: Int = 0, failed: Bool = false) -> BootRecord {
        BootRecord(side: side, nic: .vmxnet3, accelerator: .tcg, clock: .real, kmemleak: kmemleak, bootSeconds: 20,
                   consoleLog: "/c.log", dmesg: "dmesg text", workloadTranscript: failed ? "workload failed: x" : "t", unsupportedReason: nil,
                   kmemleakReport: kmemleak ? "unreferenced object 0x1 (size 64):" : nil,
                   unchecked: [UncheckedCheck(check: "page_pool leftovers", reason: "no ynl")], workloadFailed: failed, round: round, guest: guest)
    }

    @Test(arguments: StoreMaker.allCases) func everyFieldRoundTripsWithItsBoot(_ maker: StoreMaker) async throws {
        let (store, cleanup) = try maker.make()
        defer { cleanup() }
        let id = try await store.createRun(plan: Self.plan, startedAt: "2026-11-23T00:00:00Z")
        try await store.recordTree(id, tree: KernelTree(repository: "/t", name: "Debian", baseCommit: "abc", version: "6.12.117"))
        try await store.recordSeries(id, series: Self.series, applied: AppliedSeries(baseCommit: "abc", commits: ["def", "fed"]))
        try await store.recordPhase(id, PhaseRecord(phase: .applySeries, seconds: 1.5, outcome: .completed))
        let boot = Self.boot(.patched, kmemleak: true, round: 2, guest: 1)
        let sample = Sample(side: .patched, workload: "msg_zerocopy", nic: .vmxnet3, metric: "copy/throughput", unit: "MiB/s",
                            repetition: 1, value: 19.6875, higherIsBetter: true, cpuBusy: 97.5, peerCPUBusy: 41)
        let leak = Leak(side: .patched, size: 64, comm: "ip", backtrace: ["a+0x1/0x2", "b+0x3/0x4"], fingerprint: "b", raw: "r", round: 2)
        let splat = Splat(side: .patched, kind: .stalledPool, title: "stalled", text: "stalled pool shutdown")
        let bootID = try await store.recordBoot(id, boot, samples: [sample], collected: Collected(leaks: [leak], splats: [splat], dmesg: "dmesg text"))
        try await store.recordEnvironment(id, RunEnvironment(hypervisor: "QEMU 7.2.22", workload: Self.workload))
        let change = ConfigChange(symbol: "CONFIG_X", baseline: "y", patched: "n")
        try await store.recordConfigChanges(id, [change])
        try await store.finishRun(id, status: .completed, verdict: .fail, error: nil)

        let loaded = try #require(try await store.loadRun(id))
        #expect(loaded.plan == Self.plan)
        #expect(loaded.series == Self.series)
        #expect(loaded.applied?.tipCommit == "fed")
        #expect(loaded.summary.verdict == .fail && loaded.summary.status == .completed)
        #expect(loaded.summary.treeName == "Debian" && loaded.summary.baseCommit == "abc")
        #expect(loaded.summary.seriesTitle == Self.series.title)
        #expect(loaded.phases == [PhaseRecord(phase: .applySeries, seconds: 1.5, outcome: .completed)])
        var stored = boot
        stored.id = bootID
        #expect(loaded.boots == [stored], "every fact of the boot, with its id")
        // Each item names the boot it came from: no comparison has to guess.
        #expect(loaded.samples.map(\.boot) == [bootID] && loaded.leaks.map(\.boot) == [bootID] && loaded.splats.map(\.boot) == [bootID])
        var expected = (sample, leak, splat)
        expected.0.boot = bootID
        expected.1.boot = bootID
        expected.2.boot = bootID
        #expect(loaded.samples == [expected.0] && loaded.leaks == [expected.1] && loaded.splats == [expected.2])
        #expect(loaded.environment == RunEnvironment(hypervisor: "QEMU 7.2.22", workload: Self.workload))
        #expect(loaded.configChanges == [change])
        #expect(loaded.unreadable.isEmpty)
        #expect(loaded.summary.owner?.pid == ProcessInfo.processInfo.processIdentifier)
    }

    @Test(arguments: StoreMaker.allCases) func bootIDsAreDistinctAndIncreasing(_ maker: StoreMaker) async throws {
        let (store, cleanup) = try maker.make()
        defer { cleanup() }
        let first = try await store.createRun(plan: Self.plan, startedAt: "now")
        let second = try await store.createRun(plan: Self.plan, startedAt: "now")
        #expect(second > first)
        var ids: [BootID] = []
        for run in [first, second, first] {
            ids.append(try await store.recordBoot(run, Self.boot(.baseline, kmemleak: false), samples: [], collected: Collected(leaks: [], splats: [], dmesg: "")))
        }
        #expect(ids == ids.sorted() && Set(ids).count == 3)
        #expect(try await store.loadRun(first)?.boots.map(\.id) == [ids[0], ids[2]])
    }

    @Test(arguments: StoreMaker.allCases) func resumingClearsTheEndAndKeepsWhatWasCollected(_ maker: StoreMaker) async throws {
        let (store, cleanup) = try maker.make()
        defer { cleanup() }
        let id = try await store.createRun(plan: Self.plan, startedAt: "now")
        try await store.recordBoot(id, Self.boot(.baseline, kmemleak: false), samples: [], collected: Collected(leaks: [], splats: [], dmesg: ""))
        try await store.finishRun(id, status: .interrupted, verdict: .error,
                                  error: NetrigError(phase: .testPatched, blame: .infrastructure, message: "interrupted"))
        let stopped = try #require(try await store.loadRun(id))
        #expect(stopped.summary.status == .interrupted && stopped.summary.failedPhase == .testPatched && stopped.error?.message == "interrupted")
        try await store.resumeRun(id)
        let resumed = try #require(try await store.loadRun(id))
        #expect(resumed.summary.status == .running && resumed.summary.verdict == nil && resumed.summary.failedPhase == nil && resumed.error == nil)
        #expect(resumed.boots.count == 1, "the stored boot stays")
    }

    @Test(arguments: StoreMaker.allCases) func aBuildReplacesItsSideAndPatchBuildsTheList(_ maker: StoreMaker) async throws {
        let (store, cleanup) = try maker.make()
        defer { cleanup() }
        let id = try await store.createRun(plan: Self.plan, startedAt: "now")
        func artifact(_ side: Side, _ commit: String) -> KernelArtifact {
            KernelArtifact(side: side, commit: commit, key: "k", configName: "default", configHash: "h", kernelImage: "/k", configPath: "/c",
                           programs: [:], buildLog: "/l", cached: false, buildSeconds: 1, ccacheHitRatio: nil, reproducer: [])
        }
        try await store.recordBuild(id, artifact(.baseline, "a"))
        try await store.recordBuild(id, artifact(.patched, "b"))
        try await store.recordBuild(id, artifact(.baseline, "c"))
        #expect(try await store.loadRun(id)?.builds.map(\.commit).sorted() == ["b", "c"])
        let builds = (1...2).map { PatchBuild(patch: $0, subject: "s", commit: "c\($0)", succeeded: true, firstError: nil, cached: false, seconds: 1) }
        try await store.recordPatchBuilds(id, builds)
        try await store.recordPatchBuilds(id, [builds[1]])
        #expect(try await store.loadRun(id)?.patchBuilds == [builds[1]])
    }

    @Test(arguments: StoreMaker.allCases) func theListIsNewestFirstWithWhatAnIndexNeeds(_ maker: StoreMaker) async throws {
        let (store, cleanup) = try maker.make()
        defer { cleanup() }
        let unread = try await store.createRun(plan: Self.plan, startedAt: "1")
        let measured = try await store.createRun(plan: Self.plan, startedAt: "2")
        try await store.recordSeries(measured, series: Self.series, applied: nil)
        let sample = Sample(side: .baseline, workload: "w", nic: .vmxnet3, metric: "m", unit: "u", repetition: 1, value: 1, higherIsBetter: true)
        try await store.recordBoot(measured, Self.boot(.baseline, kmemleak: false), samples: [sample], collected: Collected(leaks: [], splats: [], dmesg: ""))
        let third = try await store.createRun(plan: Self.plan, startedAt: "3")
        let list = try await store.listRuns(limit: 2)
        #expect(list.map(\.id) == [third, measured])
        #expect(list[1].revision == 2 && list[1].patchCount == 2 && list[1].measured)
        #expect(list[0].revision == nil && list[0].patchCount == nil && !list[0].measured)
        #expect(try await store.listRuns(limit: 10).map(\.id) == [third, measured, unread])
    }

    @Test(arguments: StoreMaker.allCases) func groupsKeepTheirMembersInOrder(_ maker: StoreMaker) async throws {
        let (store, cleanup) = try maker.make()
        defer { cleanup() }
        let runs = [try await store.createRun(plan: Self.plan, startedAt: "now"), try await store.createRun(plan: Self.plan, startedAt: "now")]
        let matrix = try await store.createGroup(kind: .matrix, label: "series x", createdAt: "now")
        let night = try await store.createGroup(kind: .night, label: "2026-12-01", createdAt: "later")
        try await store.addToGroup(matrix, run: runs[1], label: "devmem-off")
        try await store.addToGroup(matrix, run: runs[0], label: "default")
        try await store.addToGroup(night, run: runs[0], label: "cell 1")
        let group = try #require(try await store.group(matrix))
        #expect(group.kind == .matrix && group.label == "series x" && group.createdAt == "now")
        #expect(group.members == [RunGroup.Member(run: runs[1], label: "devmem-off"), RunGroup.Member(run: runs[0], label: "default")])
        #expect(try await store.groups(of: runs[0]).map(\.id) == [matrix, night])
        #expect(try await store.groups(of: runs[1]).map(\.id) == [matrix])
        #expect(try await store.group(night + 100) == nil)
    }

    @Test(arguments: StoreMaker.allCases) func aFailedRunKeepsItsError(_ maker: StoreMaker) async throws {
        let (store, cleanup) = try maker.make()
        defer { cleanup() }
        let id = try await store.createRun(plan: Self.plan, startedAt: "now")
        let error = NetrigError(phase: .buildPatches, blame: .series, subject: "patch 2/2 'q'", message: "does not build", details: ["because"], patch: 2)
        try await store.finishRun(id, status: .failed, verdict: .fail, error: error)
        let loaded = try #require(try await store.loadRun(id))
        #expect(loaded.error == error)
        #expect(loaded.summary.failedPhase == .buildPatches && loaded.summary.status == .failed)
        #expect(try await store.loadRun(id + 100) == nil, "no such run is nil, not an error")
    }

    /// The pair topology's confirmed leak, stored: both guests of each leak boot, two rounds. The stored
    /// evidence counts rounds, not guests, so the leak is as confirmed in the store as the run said.
    @Test(arguments: StoreMaker.allCases) func storedEvidenceCountsLeakRoundsNotGuests(_ maker: StoreMaker) async throws {
        let (store, cleanup) = try maker.make()
        defer { cleanup() }
        let id = try await store.createRun(plan: Self.plan, startedAt: "now")
        let leak = Leak(side: .patched, size: 64, comm: "ip", backtrace: ["f"], fingerprint: "f", raw: "r")
        for round in 1...2 {
            for guest in 0...1 {
                for side in Side.allCases {
                    var found = leak
                    found.round = round
                    let leaks = side == .patched && guest == 0 ? [found] : []
                    try await store.recordBoot(id, Self.boot(side, kmemleak: true, round: round, guest: guest), samples: [],
                                               collected: Collected(leaks: leaks, splats: [], dmesg: ""))
                }
            }
        }
        let evidence = try #require(try await store.loadRun(id)).evidence
        #expect(evidence.leakRounds(.patched) == 2)
        let comparison = Comparison(evidence, setting: nil)
        #expect(comparison.newLeaks.map(\.fingerprint) == ["f"] && comparison.unconfirmedLeaks.isEmpty)
    }
}

/// What only SQLite has: its schema, its migrations and its rows written by other hands.
@Suite struct SQLiteStoreSchemaTests {
    func withStore(_ body: (SQLiteRunStore) async throws -> Void) async throws {
        let (store, cleanup) = try StoreMaker.sqlite.make()
        defer { cleanup() }
        try await body(store as! SQLiteRunStore)
    }

    @Test func fingerprintLookupsUseTheirIndex() async throws {
        try await withStore { store in
            let plan = try await store.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT run_id FROM leaks WHERE fingerprint = ?", arguments: ["f"])
                    .map { $0["detail"] as String }.joined(separator: "; ")
            }
            #expect(plan.contains("leaks_fingerprint"), "\(plan)")
            let foreignKeys = try await store.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT id FROM boots WHERE run_id = 1").map { $0["detail"] as String }.joined()
            }
            #expect(foreignKeys.contains("boots_run"), "\(foreignKeys)")
        }
    }

    @Test func aRowThisVersionCannotReadIsNamedNotDropped() async throws {
        try await withStore { store in
            let id = try await store.createRun(plan: RunStoreContractTests.plan, startedAt: "now")
            try await store.recordBoot(id, RunStoreContractTests.boot(.baseline, kmemleak: false), samples: [],
                                       collected: Collected(leaks: [], splats: [], dmesg: ""))
            let bad = try await store.recordBoot(id, RunStoreContractTests.boot(.patched, kmemleak: false), samples: [],
                                                 collected: Collected(leaks: [], splats: [], dmesg: ""))
            try await store.write { db in
                try db.execute(sql: "UPDATE boots SET nic = 'e1000-future' WHERE id = ?", arguments: [bad])
                try db.execute(sql: "UPDATE runs SET environment_json = '{\"hypervisor\": 3}' WHERE id = ?", arguments: [id])
            }
            let loaded = try #require(try await store.loadRun(id))
            #expect(loaded.boots.count == 1)
            #expect(loaded.unreadable.contains("boot \(bad): unknown value 'e1000-future'"), "\(loaded.unreadable)")
            #expect(loaded.unreadable.contains { $0.hasPrefix("environment: ") }, "\(loaded.unreadable)")
            try await store.write { db in try db.execute(sql: "UPDATE runs SET plan_json = '{}' WHERE id = ?", arguments: [id]) }
            await #expect { try await store.loadRun(id) } throws: { "\($0)".contains("its plan cannot be read") }
            #expect(try await store.listRuns(limit: 5).map(\.id) == [id], "the list still shows it")
        }
    }

    /// A store written before boots carried their facts: a pair leak boot of round 2 and a boot whose
    /// workload failed, as the older version wrote them, read back with their round, guest and failure.
    @Test func olderBootsGetTheirFactsWhenMigrated() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-migrate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/runs.sqlite"
        let queue = try DatabaseQueue(path: path)
        try SQLiteRunStore.migrator.migrate(queue, upTo: "v7-boot-unchecked")
        let planJSON = try SQLiteRunStore.json(RunStoreContractTests.plan)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO runs (started_at, status, plan_json, config_name, nic, workload, series_json) VALUES ('now', 'completed', ?, 'default', 'vmxnet3', 'w', ?)",
                           arguments: [planJSON, try SQLiteRunStore.json(RunStoreContractTests.series)])
            for (log, transcript) in [("/runs/1/patched/leaks-2-peer/console.log", "t"), ("/runs/1/baseline/throughput-1/console.log", "workload failed: exit 1")] {
                try db.execute(sql: """
                    INSERT INTO boots (run_id, side, nic, accelerator, clock, kmemleak, boot_seconds, console_log, dmesg, transcript)
                    VALUES (1, 'patched', 'vmxnet3', 'tcg', 'real', 1, 1, ?, '', ?)
                    """, arguments: [log, transcript])
            }
        }
        try queue.close()
        let store = try SQLiteRunStore(path: path)
        let boots = try #require(try await store.loadRun(1)).boots
        #expect(boots.map(\.round) == [2, 1] && boots.map(\.guest) == [1, 0] && boots.map(\.workloadFailed) == [false, true])
        let summary = try #require(try await store.listRuns(limit: 1).first)
        #expect(summary.revision == 2 && summary.patchCount == 2, "the summary columns are filled from the stored series")
    }
}
