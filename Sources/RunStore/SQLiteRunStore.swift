import FileLocks
import Foundation
import GRDB
import NetrigCore

/// The run store on SQLite (GRDB), in WAL mode so that several netrig processes can use one file: one
/// transaction per recorded step, so a killed process leaves every completed phase readable.
public final class SQLiteRunStore: RunRecorder, RunQueries {
    let pool: DatabasePool
    public let path: String

    public init(path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        // Two processes opening a new store at once would both see a migration as pending and both apply
        // it ("duplicate column name"): opening and migrating hold an exclusive lock on the store's
        // directory (not on the database file, see FileLock).
        let directory = (path as NSString).deletingLastPathComponent
        do {
            pool = try FileLock.withLockBlocking(directory.isEmpty ? "." : directory) {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try Self.migrator.migrate(pool)
                return pool
            }
        } catch let error as POSIXError {
            throw NetrigError(blame: .infrastructure, subject: path,
                              message: "cannot lock the store's directory: \(error.localizedDescription)")
        }
        self.path = path
    }

    /// This process, recorded as the owner of the runs it creates or resumes.
    static let owner = RunOwner(host: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier)

    /// Every write runs outside the caller's task: a run interrupted by SIGINT or SIGTERM (a cancelled
    /// task, which GRDB's async writes refuse) still records its failed phase and its end.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let pool = self.pool
        return try await Task.detached { try await pool.write(body) }.value
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-runs") { db in
            try db.execute(sql: """
            CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                status TEXT NOT NULL,
                verdict TEXT,
                failed_phase TEXT,
                error_json TEXT,
                plan_json TEXT NOT NULL,
                tree_name TEXT NOT NULL DEFAULT '',
                tree_repository TEXT NOT NULL DEFAULT '',
                tree_version TEXT NOT NULL DEFAULT '',
                base_commit TEXT NOT NULL DEFAULT '',
                series_json TEXT,
                series_title TEXT NOT NULL DEFAULT '',
                applied_json TEXT,
                config_name TEXT NOT NULL,
                nic TEXT NOT NULL,
                workload TEXT NOT NULL
            );
            CREATE TABLE phases (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                phase TEXT NOT NULL,
                seconds REAL NOT NULL,
                outcome TEXT NOT NULL,
                note TEXT
            );
            CREATE TABLE builds (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                side TEXT NOT NULL,
                artifact_json TEXT NOT NULL
            );
            CREATE TABLE boots (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                side TEXT NOT NULL,
                nic TEXT NOT NULL,
                accelerator TEXT NOT NULL,
                clock TEXT NOT NULL,
                kmemleak INTEGER NOT NULL,
                boot_seconds REAL NOT NULL,
                console_log TEXT NOT NULL,
                dmesg TEXT NOT NULL,
                transcript TEXT NOT NULL,
                unsupported_reason TEXT
            );
            CREATE TABLE samples (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                boot_id INTEGER NOT NULL REFERENCES boots(id) ON DELETE CASCADE,
                side TEXT NOT NULL,
                workload TEXT NOT NULL,
                nic TEXT NOT NULL,
                metric TEXT NOT NULL,
                unit TEXT NOT NULL,
                repetition INTEGER NOT NULL,
                value REAL NOT NULL,
                higher_is_better INTEGER NOT NULL
            );
            CREATE TABLE leaks (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                boot_id INTEGER NOT NULL REFERENCES boots(id) ON DELETE CASCADE,
                side TEXT NOT NULL,
                size INTEGER NOT NULL,
                comm TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                backtrace TEXT NOT NULL,
                raw TEXT NOT NULL
            );
            CREATE TABLE splats (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                boot_id INTEGER NOT NULL REFERENCES boots(id) ON DELETE CASCADE,
                side TEXT NOT NULL,
                kind TEXT NOT NULL,
                title TEXT NOT NULL,
                text TEXT NOT NULL
            );
            CREATE INDEX samples_run ON samples(run_id);
            CREATE INDEX phases_run ON phases(run_id);
            """)
        }
        migrator.registerMigration("v2-leak-rounds-hypervisor") { db in
            try db.execute(sql: """
            ALTER TABLE boots ADD COLUMN kmemleak_report TEXT;
            ALTER TABLE leaks ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
            ALTER TABLE runs ADD COLUMN environment_json TEXT;
            """)
        }
        migrator.registerMigration("v3-patch-builds") { db in
            try db.execute(sql: """
            CREATE TABLE patch_builds (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                patch INTEGER NOT NULL,
                build_json TEXT NOT NULL
            );
            """)
        }
        migrator.registerMigration("v4-config-changes") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN config_changes_json TEXT")
        }
        migrator.registerMigration("v5-sample-cpu") { db in
            try db.execute(sql: "ALTER TABLE samples ADD COLUMN cpu_busy REAL; ALTER TABLE samples ADD COLUMN peer_cpu_busy REAL")
        }
        // Which process runs it: a run still "running" whose process is gone was interrupted (killed, or
        // its host went down) and can be resumed.
        migrator.registerMigration("v6-run-owner") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN owner_host TEXT; ALTER TABLE runs ADD COLUMN owner_pid INTEGER")
        }
        // The checks a boot could not make (a JSON array of {check, reason}); NULL on older rows: every
        // check of theirs ran or was not promised.
        migrator.registerMigration("v7-boot-unchecked") { db in
            try db.execute(sql: "ALTER TABLE boots ADD COLUMN unchecked_json TEXT")
        }
        // The code of the error that ended a run, beside failed_phase, for questions over the history (how
        // many runs fell to a full disk); error_json holds it too, with the cause's description. NULL on
        // older rows: their code was not kept.
        migrator.registerMigration("v8-error-code") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN error_code TEXT")
        }
        return migrator
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(type, from: Data(text.utf8))
    }

    // MARK: RunRecorder

    public func createRun(plan: RunPlan, startedAt: String) async throws -> RunID {
        let planJSON = try Self.json(plan)
        return try await write { db in
            try db.execute(sql: """
                INSERT INTO runs (started_at, status, plan_json, config_name, nic, workload, owner_host, owner_pid)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [startedAt, RunStatus.running.rawValue, planJSON, plan.configName, plan.nic.rawValue, plan.workload,
                                 Self.owner.host, Self.owner.pid])
            return db.lastInsertedRowID
        }
    }

    /// Takes a failed or interrupted run up again: running, owned by this process, its verdict and error
    /// cleared; everything it collected stays.
    public func resumeRun(_ run: RunID) async throws {
        try await write { db in
            try db.execute(sql: """
                UPDATE runs SET status = ?, verdict = NULL, failed_phase = NULL, error_json = NULL, error_code = NULL, finished_at = NULL,
                                owner_host = ?, owner_pid = ? WHERE id = ?
                """, arguments: [RunStatus.running.rawValue, Self.owner.host, Self.owner.pid, run])
        }
    }

    public func recordTree(_ run: RunID, tree: KernelTree) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE runs SET tree_name = ?, tree_repository = ?, tree_version = ?, base_commit = ? WHERE id = ?",
                           arguments: [tree.name, tree.repository, tree.version, tree.baseCommit, run])
        }
    }

    public func recordSeries(_ run: RunID, series: Series, applied: AppliedSeries?) async throws {
        let seriesJSON = try Self.json(series)
        let appliedJSON = try applied.map { try Self.json($0) }
        try await write { db in
            try db.execute(sql: "UPDATE runs SET series_json = ?, series_title = ?, applied_json = ? WHERE id = ?",
                           arguments: [seriesJSON, series.title, appliedJSON, run])
        }
    }

    public func recordPatchBuilds(_ run: RunID, _ builds: [PatchBuild]) async throws {
        let rows = try builds.map { ($0.patch, try Self.json($0)) }
        try await write { db in
            // A resumed run builds its patches again (from the cache): the new list replaces the old.
            try db.execute(sql: "DELETE FROM patch_builds WHERE run_id = ?", arguments: [run])
            for (patch, text) in rows {
                try db.execute(sql: "INSERT INTO patch_builds (run_id, patch, build_json) VALUES (?, ?, ?)", arguments: [run, patch, text])
            }
        }
    }

    public func recordConfigChanges(_ run: RunID, _ changes: [ConfigChange]) async throws {
        let text = try Self.json(changes)
        try await write { db in
            try db.execute(sql: "UPDATE runs SET config_changes_json = ? WHERE id = ?", arguments: [text, run])
        }
    }

    public func recordEnvironment(_ run: RunID, _ environment: RunEnvironment) async throws {
        let text = try Self.json(environment)
        try await write { db in
            try db.execute(sql: "UPDATE runs SET environment_json = ? WHERE id = ?", arguments: [text, run])
        }
    }

    public func recordPhase(_ run: RunID, _ phase: PhaseRecord) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO phases (run_id, phase, seconds, outcome, note) VALUES (?, ?, ?, ?, ?)",
                           arguments: [run, phase.phase.rawValue, phase.seconds, phase.outcome.rawValue, phase.note])
        }
    }

    public func recordBuild(_ run: RunID, _ artifact: KernelArtifact) async throws {
        let text = try Self.json(artifact)
        try await write { db in
            try db.execute(sql: "DELETE FROM builds WHERE run_id = ? AND side = ?", arguments: [run, artifact.side.rawValue])
            try db.execute(sql: "INSERT INTO builds (run_id, side, artifact_json) VALUES (?, ?, ?)",
                           arguments: [run, artifact.side.rawValue, text])
        }
    }

    public func recordBoot(_ run: RunID, _ boot: BootRecord, samples: [Sample], collected: Collected) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO boots (run_id, side, nic, accelerator, clock, kmemleak, boot_seconds, console_log, dmesg, transcript,
                                   unsupported_reason, kmemleak_report, unchecked_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [run, boot.side.rawValue, boot.nic.rawValue, boot.accelerator.rawValue, boot.clock.rawValue,
                                 boot.kmemleak, boot.bootSeconds, boot.consoleLog, boot.dmesg, boot.workloadTranscript,
                                 boot.unsupportedReason, boot.kmemleakReport, boot.unchecked.isEmpty ? nil : try Self.json(boot.unchecked)])
            let bootID = db.lastInsertedRowID
            for sample in samples {
                try db.execute(sql: """
                    INSERT INTO samples (run_id, boot_id, side, workload, nic, metric, unit, repetition, value, higher_is_better,
                                         cpu_busy, peer_cpu_busy)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [run, bootID, sample.side.rawValue, sample.workload, sample.nic.rawValue, sample.metric,
                                     sample.unit, sample.repetition, sample.value, sample.higherIsBetter, sample.cpuBusy, sample.peerCPUBusy])
            }
            for leak in collected.leaks {
                try db.execute(sql: """
                    INSERT INTO leaks (run_id, boot_id, side, size, comm, fingerprint, backtrace, raw, round)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [run, bootID, leak.side.rawValue, leak.size, leak.comm, leak.fingerprint,
                                     leak.backtrace.joined(separator: "\n"), leak.raw, leak.round])
            }
            for splat in collected.splats {
                try db.execute(sql: "INSERT INTO splats (run_id, boot_id, side, kind, title, text) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [run, bootID, splat.side.rawValue, splat.kind.rawValue, splat.title, splat.text])
            }
        }
    }

    public func finishRun(_ run: RunID, status: RunStatus, verdict: Verdict, error: NetrigError?) async throws {
        let errorJSON = try error.map { try Self.json(ErrorRecord($0)) }
        let finished = Self.timestamp()
        try await write { db in
            try db.execute(sql: """
                UPDATE runs SET status = ?, verdict = ?, failed_phase = ?, error_json = ?, error_code = ?, finished_at = ? WHERE id = ?
                """, arguments: [status.rawValue, verdict.rawValue, error?.phase?.rawValue, errorJSON, error?.code.rawValue, finished, run])
        }
    }

    public static func timestamp() -> String {
        ISO8601DateFormatter().string(from: Date())
    }

    // MARK: RunQueries

    public func listRuns(limit: Int) async throws -> [RunSummary] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runs ORDER BY id DESC LIMIT ?", arguments: [limit]).map(Self.summary)
        }
    }

    static func summary(_ row: Row) -> RunSummary {
        RunSummary(id: row["id"], startedAt: row["started_at"], seriesTitle: row["series_title"], treeName: row["tree_name"],
                   baseCommit: row["base_commit"], configName: row["config_name"], nic: row["nic"], workload: row["workload"],
                   status: RunStatus(rawValue: row["status"]) ?? .failed,
                   verdict: (row["verdict"] as String?).flatMap(Verdict.init(rawValue:)),
                   failedPhase: (row["failed_phase"] as String?).flatMap(Phase.init(rawValue:)),
                   owner: (row["owner_pid"] as Int32?).map { RunOwner(host: row["owner_host"] ?? "", pid: $0) })
    }

    public func loadRun(_ id: RunID) async throws -> StoredRun? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]),
                  let plan = Self.decode(RunPlan.self, row["plan_json"]) else { return nil }
            let phases = try Row.fetchAll(db, sql: "SELECT * FROM phases WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> PhaseRecord? in
                guard let phase = Phase(rawValue: r["phase"]), let outcome = PhaseRecord.Outcome(rawValue: r["outcome"]) else { return nil }
                return PhaseRecord(phase: phase, seconds: r["seconds"], outcome: outcome, note: r["note"])
            }
            let builds = try Row.fetchAll(db, sql: "SELECT artifact_json FROM builds WHERE run_id = ? ORDER BY id", arguments: [id])
                .compactMap { Self.decode(KernelArtifact.self, $0["artifact_json"]) }
            let boots = try Row.fetchAll(db, sql: "SELECT * FROM boots WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> BootRecord? in
                guard let side = Side(rawValue: r["side"]), let nic = NICModel(rawValue: r["nic"]),
                      let accelerator = Accelerator(rawValue: r["accelerator"]), let clock = MeasurementClock(rawValue: r["clock"]) else { return nil }
                return BootRecord(side: side, nic: nic, accelerator: accelerator, clock: clock, kmemleak: r["kmemleak"],
                                  bootSeconds: r["boot_seconds"], consoleLog: r["console_log"], dmesg: r["dmesg"],
                                  workloadTranscript: r["transcript"], unsupportedReason: r["unsupported_reason"],
                                  kmemleakReport: r["kmemleak_report"],
                                  unchecked: Self.decode([UncheckedCheck].self, r["unchecked_json"]) ?? [])
            }
            let samples = try Row.fetchAll(db, sql: "SELECT * FROM samples WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> Sample? in
                guard let side = Side(rawValue: r["side"]), let nic = NICModel(rawValue: r["nic"]) else { return nil }
                return Sample(side: side, workload: r["workload"], nic: nic, metric: r["metric"], unit: r["unit"],
                              repetition: r["repetition"], value: r["value"], higherIsBetter: r["higher_is_better"],
                              cpuBusy: r["cpu_busy"], peerCPUBusy: r["peer_cpu_busy"])
            }
            let leaks = try Row.fetchAll(db, sql: "SELECT * FROM leaks WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> Leak? in
                guard let side = Side(rawValue: r["side"]) else { return nil }
                let backtrace: String = r["backtrace"]
                return Leak(side: side, size: r["size"], comm: r["comm"], backtrace: backtrace.split(separator: "\n").map(String.init),
                            fingerprint: r["fingerprint"], raw: r["raw"], round: r["round"])
            }
            let patchBuilds = try Row.fetchAll(db, sql: "SELECT build_json FROM patch_builds WHERE run_id = ? ORDER BY patch, id", arguments: [id])
                .compactMap { Self.decode(PatchBuild.self, $0["build_json"]) }
            let splats = try Row.fetchAll(db, sql: "SELECT * FROM splats WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> Splat? in
                guard let side = Side(rawValue: r["side"]), let kind = Splat.Kind(rawValue: r["kind"]) else { return nil }
                return Splat(side: side, kind: kind, title: r["title"], text: r["text"])
            }
            return StoredRun(summary: Self.summary(row), plan: plan, series: Self.decode(Series.self, row["series_json"]),
                             applied: Self.decode(AppliedSeries.self, row["applied_json"]), phases: phases, builds: builds,
                             boots: boots, samples: samples, leaks: leaks, splats: splats,
                             error: Self.decode(ErrorRecord.self, row["error_json"])?.error, environment: Self.decode(RunEnvironment.self, row["environment_json"]), patchBuilds: patchBuilds,
                             configChanges: Self.decode([ConfigChange].self, row["config_changes_json"]))
        }
    }
}

/// `NetrigError` as stored: plain fields, the cause by its description. Records from before v8-error-code
/// have no code (read as `other`), cause, log or cached.
struct ErrorRecord: Codable {
    /// nil for an error the engine never saw.
    var phase: Phase?
    var blame: NetrigError.Blame
    var subject: String?
    var message: String
    var details: [String]
    var patch: Int?
    var code: NetrigError.Code?
    var causeDescription: String?
    var log: String?
    var cached: Bool?

    init(_ error: NetrigError) {
        patch = error.patch
        phase = error.phase
        blame = error.blame
        subject = error.subject
        message = error.message
        details = error.details
        code = error.code
        causeDescription = error.cause.map { "\($0)" }
        log = error.log
        cached = error.cached ? true : nil
    }

    var error: NetrigError {
        NetrigError(phase: phase, blame: blame, subject: subject, message: message, details: details, patch: patch,
                    code: code ?? .other, cause: causeDescription.map(NetrigError.RecordedCause.init), log: log, cached: cached ?? false)
    }
}
