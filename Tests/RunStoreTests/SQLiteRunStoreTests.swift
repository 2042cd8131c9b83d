import Foundation
import Synchronization
import Testing
@testable import NetrigCore
@testable import RunStore

/// The real SQLite store in a temporary file.
@Suite struct SQLiteRunStoreTests {
    let plan = RunPlan(treeRequest: nil, baseRequest: nil, seriesPath: "s.mbox", configName: "default", nic: .vmxnet3,
                       workload: "msg_zerocopy", repetitions: 2, leakCheck: true, clock: .virtual, accelerator: nil,
                       memoryMiB: 1024, vcpus: 2, commandLine: ["netrig", "run", "--nic", "vmxnet3"])

    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("netrig-store-\(UUID().uuidString)/runs.sqlite").path
    }

    /// A run interrupted by SIGINT has its task cancelled; the store must still record its end.
    @Test func writesFromACancelledTaskStillLand() async throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let store = try SQLiteRunStore(path: path)
        let id = try await store.createRun(plan: plan, startedAt: "now")
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await store.recordPhase(id, PhaseRecord(phase: .testBaseline, seconds: 1, outcome: .failed, note: "interrupted"))
            try await store.finishRun(id, status: .interrupted, verdict: .error,
                                      error: NetrigError(phase: .testBaseline, blame: .infrastructure, message: "interrupted"))
        }
        try await task.value
        let loaded = try #require(try await store.loadRun(id))
        #expect(loaded.summary.status == .interrupted && loaded.summary.failedPhase == .testBaseline)
        #expect(loaded.phases.map(\.note) == ["interrupted"])
        #expect(loaded.summary.owner?.pid == ProcessInfo.processInfo.processIdentifier, "the run knows the process that ran it")
    }

    @Test func failedRunKeepsItsErrorAndPhase() async throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let store = try SQLiteRunStore(path: path)
        let id = try await store.createRun(plan: plan, startedAt: "now")
        let error = NetrigError(phase: .configure, blame: .usage, subject: "CONFIG_NET_DEVMEM", message: "dropped", details: ["because"])
        try await store.finishRun(id, status: .failed, verdict: .fail, error: error)
        let loaded = try #require(try await store.loadRun(id))
        #expect(loaded.error == error)
        #expect(loaded.summary.failedPhase == .configure)
        #expect(loaded.summary.status == .failed)
    }

    /// The code, the cause (by its description), the log and `cached` come back; the code is also in its
    /// own column; a record from before the code was kept reads as `other`.
    @Test func failedRunKeepsItsErrorCodeAndCause() async throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let store = try SQLiteRunStore(path: path)
        let id = try await store.createRun(plan: plan, startedAt: "now")
        let cause = POSIXError(.ENOSPC)
        let error = NetrigError(phase: .buildBaseline, blame: .infrastructure, subject: "disk", message: "the build ran out of disk space",
                                code: .outOfDisk, cause: cause, log: "/cache/logs/baseline.log", cached: true)
        try await store.finishRun(id, status: .failed, verdict: .error, error: error)
        let loaded = try #require(try await store.loadRun(id)?.error)
        #expect(loaded == error)
        #expect(loaded.isCode(.outOfDisk) && loaded.log == "/cache/logs/baseline.log" && loaded.cached)
        #expect(loaded.cause.map { "\($0)" } == "\(cause)")
        #expect(loaded.description == error.description, "the cause is shown the same after the round trip")
        let column = try await store.pool.read { db in try String.fetchOne(db, sql: "SELECT error_code FROM runs WHERE id = ?", arguments: [id]) }
        #expect(column == "out-of-disk")

        let old = try await store.createRun(plan: plan, startedAt: "then")
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE runs SET status = 'failed', error_json = ? WHERE id = ?", arguments: [
                #"{"blame":"usage","details":[],"message":"dropped","phase":"configure"}"#, old])
        }
        let before = try #require(try await store.loadRun(old)?.error)
        #expect(before.code == .other && before.cause == nil && before.log == nil && !before.cached && before.phase == .configure)

        try await store.resumeRun(id)
        let resumed = try await store.pool.read { db in
            try String.fetchOne(db, sql: "SELECT coalesce(error_code, '') || coalesce(error_json, '') FROM runs WHERE id = ?", arguments: [id])
        }
        #expect(resumed == "", "a resumed run has no error yet")
    }

    /// Several processes opening a store that does not exist yet, at the same moment (two CI jobs starting
    /// together): the migrations run once, every opener gets a working store. (Found by the two-runs fault
    /// test: "duplicate column name" from a migration applied twice.) Threads, each with its own open file
    /// description, stand in for the processes: flock(2) excludes them the same way.
    @Test func openersOfANewStoreAtOnceMigrateItOnce() async throws {
        for _ in 0..<5 {
            let path = temporaryPath()
            defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
            let outcomes = Mutex<[Result<SQLiteRunStore, any Error>]>([])
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                let result = Result { try SQLiteRunStore(path: path) }
                outcomes.withLock { $0.append(result) }
            }
            let stores = try outcomes.withLock { $0 }.map { try $0.get() }
            for store in stores { _ = try await store.createRun(plan: plan, startedAt: "now") }
            #expect(try await stores[0].listRuns(limit: 10).count == 6)
            // Opening the store once more in this process leaves the open ones working (the lock must not
            // touch the database file: closing a descriptor of it drops SQLite's POSIX locks).
            let again = try SQLiteRunStore(path: path)
            _ = try await stores[0].createRun(plan: plan, startedAt: "now")
            #expect(try await again.listRuns(limit: 10).count == 7)
        }
    }

    @Test func twoStoresOnOneFileWriteConcurrently() async throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let first = try SQLiteRunStore(path: path)
        let second = try SQLiteRunStore(path: path)
        let plan = self.plan
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in [first, second] {
                group.addTask {
                    for _ in 0..<20 {
                        let id = try await store.createRun(plan: plan, startedAt: "now")
                        try await store.recordPhase(id, PhaseRecord(phase: .prepareTree, seconds: 0.1, outcome: .completed))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await first.listRuns(limit: 100).count == 40)
        let mode = try await first.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }
}
