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
        // Each boot's facts, stored instead of inferred: its workload failed (rows before this said so only
        // by their transcript's first words), its round, and which guest of the boot it is. Older rows get
        // them from their work directory (".../leaks-2-peer/console.log"), as the engine named it.
        migrator.registerMigration("v9-boot-facts") { db in
            try db.execute(sql: """
                ALTER TABLE boots ADD COLUMN workload_failed INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE boots ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
                ALTER TABLE boots ADD COLUMN guest INTEGER NOT NULL DEFAULT 0;
                UPDATE boots SET workload_failed = 1 WHERE transcript LIKE 'workload failed: %';
                """)
            let pattern = #/(throughput|leaks)-([0-9]+)(-peer)?/[^/]*$/#
            for row in try Row.fetchAll(db, sql: "SELECT id, console_log FROM boots") {
                let log: String = row["console_log"]
                guard let match = log.firstMatch(of: pattern), let round = Int(match.2) else { continue }
                try db.execute(sql: "UPDATE boots SET round = ?, guest = ? WHERE id = ?",
                               arguments: [round, match.3 == nil ? 0 : 1, row["id"] as Int64])
            }
        }
        // Indexes on every foreign key and on leak fingerprints (a flake history looks leaks up by
        // fingerprint); the series' revision and patch count beside its title, so a list or an index page
        // reads no JSON; groups of runs (a matrix, a bisection, a night).
        migrator.registerMigration("v10-groups-indexes-summary") { db in
            try db.execute(sql: """
                CREATE INDEX builds_run ON builds(run_id);
                CREATE INDEX boots_run ON boots(run_id);
                CREATE INDEX samples_boot ON samples(boot_id);
                CREATE INDEX leaks_run ON leaks(run_id);
                CREATE INDEX leaks_boot ON leaks(boot_id);
                CREATE INDEX leaks_fingerprint ON leaks(fingerprint);
                CREATE INDEX splats_run ON splats(run_id);
                CREATE INDEX splats_boot ON splats(boot_id);
                CREATE INDEX patch_builds_run ON patch_builds(run_id);
                ALTER TABLE runs ADD COLUMN series_revision INTEGER;
                ALTER TABLE runs ADD COLUMN patch_count INTEGER;
                CREATE TABLE run_groups (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    label TEXT NOT NULL,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE run_group_members (
                    group_id INTEGER NOT NULL REFERENCES run_groups(id) ON DELETE CASCADE,
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    label TEXT NOT NULL,
                    PRIMARY KEY (group_id, run_id)
                );
                CREATE INDEX run_group_members_run ON run_group_members(run_id);
                """)
            for row in try Row.fetchAll(db, sql: "SELECT id, series_json FROM runs WHERE series_json IS NOT NULL") {
                guard let series = try? decode(Series.self, row["series_json"]) else { continue }
                try db.execute(sql: "UPDATE runs SET series_revision = ?, patch_count = ? WHERE id = ?",
                               arguments: [series.revision, series.patches.count, row["id"] as Int64])
            }
        }
        return migrator
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes a JSON column; nil for NULL. A column that does not decode throws (`Unreadable` collects it).
    static func decode<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T? {
        guard let text else { return nil }
        return try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// What a load could not read, item by item: each failure named ("boot 12: unknown NIC 'foo'") and
    /// the item left out, instead of the whole run failing or the item vanishing without a word.
    final class Unreadable {
        var lines: [String] = []

        func decode<T: Decodable>(_ type: T.Type, _ text: String?, _ what: String) -> T? {
            do { return try SQLiteRunStore.decode(type, text) } catch {
                lines.append("\(what): \(Self.describe(error))")
                return nil
            }
        }

        func value<T: RawRepresentable>(_ type: T.Type, _ raw: String?, _ what: String) -> T? where T.RawValue == String {
            guard let raw else { lines.append("\(what): missing"); return nil }
            guard let value = T(rawValue: raw) else { lines.append("\(what): unknown value '\(raw)'"); return nil }
            return value
        }

        static func describe(_ error: any Error) -> String {
            switch error {
            case DecodingError.dataCorrupted(let context), DecodingError.keyNotFound(_, let context),
                 DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
                let path = context.codingPath.map(\.stringValue).joined(separator: ".")
                return (path.isEmpty ? "" : "\(path): ") + context.debugDescription
            default:
                return "\(error)"
            }
        }
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
            try db.execute(sql: """
                UPDATE runs SET series_json = ?, series_title = ?, applied_json = ?, series_revision = ?, patch_count = ? WHERE id = ?
                """, arguments: [seriesJSON, series.title, appliedJSON, series.revision, series.patches.count, run])
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

    public func recordBoot(_ run: RunID, _ boot: BootRecord, samples: [Sample], collected: Collected) async throws -> BootID {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO boots (run_id, side, nic, accelerator, clock, kmemleak, boot_seconds, console_log, dmesg, transcript,
                                   unsupported_reason, kmemleak_report, unchecked_json, workload_failed, round, guest)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [run, boot.side.rawValue, boot.nic.rawValue, boot.accelerator.rawValue, boot.clock.rawValue,
                                 boot.kmemleak, boot.bootSeconds, boot.consoleLog, boot.dmesg, boot.workloadTranscript,
                                 boot.unsupportedReason, boot.kmemleakReport, boot.unchecked.isEmpty ? nil : try Self.json(boot.unchecked),
                                 boot.workloadFailed, boot.round, boot.guest])
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
            return bootID
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
            try Row.fetchAll(db, sql: """
                SELECT id, started_at, series_title, tree_name, base_commit, config_name, nic, workload, status, verdict, failed_phase,
                       owner_host, owner_pid, series_revision, patch_count,
                       EXISTS (SELECT 1 FROM samples WHERE samples.run_id = runs.id)
                           OR EXISTS (SELECT 1 FROM leaks WHERE leaks.run_id = runs.id) AS measured
                FROM runs ORDER BY id DESC LIMIT ?
                """, arguments: [limit]).map { Self.summary($0, Unreadable()) }
        }
    }

    static func summary(_ row: Row, _ unreadable: Unreadable) -> RunSummary {
        let id: RunID = row["id"]
        return RunSummary(id: id, startedAt: row["started_at"], seriesTitle: row["series_title"], treeName: row["tree_name"],
                          baseCommit: row["base_commit"], configName: row["config_name"], nic: row["nic"], workload: row["workload"],
                          // A status this version does not know is shown as failed, and said.
                          status: unreadable.value(RunStatus.self, row["status"], "run \(id) status") ?? .failed,
                          verdict: (row["verdict"] as String?).flatMap { unreadable.value(Verdict.self, $0, "run \(id) verdict") },
                          failedPhase: (row["failed_phase"] as String?).flatMap { unreadable.value(Phase.self, $0, "run \(id) failed phase") },
                          owner: (row["owner_pid"] as Int32?).map { RunOwner(host: row["owner_host"] ?? "", pid: $0) },
                          revision: row["series_revision"], patchCount: row["patch_count"], measured: row["measured"] ?? false)
    }

    public func loadRun(_ id: RunID) async throws -> StoredRun? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT *, EXISTS (SELECT 1 FROM samples WHERE samples.run_id = runs.id)
                              OR EXISTS (SELECT 1 FROM leaks WHERE leaks.run_id = runs.id) AS measured
                FROM runs WHERE id = ?
                """, arguments: [id]) else { return nil }
            let unreadable = Unreadable()
            // A plan that cannot be read leaves nothing to run or compare: the run cannot be loaded, and says why.
            let plan: RunPlan
            do {
                guard let decoded = try Self.decode(RunPlan.self, row["plan_json"]) else { throw NetrigError(phase: .store, blame: .infrastructure, message: "no plan") }
                plan = decoded
            } catch {
                throw NetrigError(phase: .store, blame: .infrastructure, subject: "run \(id) in \(self.path)",
                                  message: "its plan cannot be read: \(Unreadable.describe(error))",
                                  details: ["it was stored by another version of netrig, or the store was edited"])
            }
            let phases = try Row.fetchAll(db, sql: "SELECT * FROM phases WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> PhaseRecord? in
                let what = "phase row \(r["id"] as Int64)"
                guard let phase = unreadable.value(Phase.self, r["phase"], what),
                      let outcome = unreadable.value(PhaseRecord.Outcome.self, r["outcome"], what) else { return nil }
                return PhaseRecord(phase: phase, seconds: r["seconds"], outcome: outcome, note: r["note"])
            }
            let builds = try Row.fetchAll(db, sql: "SELECT id, artifact_json FROM builds WHERE run_id = ? ORDER BY id", arguments: [id])
                .compactMap { unreadable.decode(KernelArtifact.self, $0["artifact_json"], "build \($0["id"] as Int64)") }
            let boots = try Row.fetchAll(db, sql: "SELECT * FROM boots WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> BootRecord? in
                let what = "boot \(r["id"] as Int64)"
                guard let side = unreadable.value(Side.self, r["side"], what), let nic = unreadable.value(NICModel.self, r["nic"], what),
                      let accelerator = unreadable.value(Accelerator.self, r["accelerator"], what),
                      let clock = unreadable.value(MeasurementClock.self, r["clock"], what) else { return nil }
                return BootRecord(side: side, nic: nic, accelerator: accelerator, clock: clock, kmemleak: r["kmemleak"],
                                  bootSeconds: r["boot_seconds"], consoleLog: r["console_log"], dmesg: r["dmesg"],
                                  workloadTranscript: r["transcript"], unsupportedReason: r["unsupported_reason"],
                                  kmemleakReport: r["kmemleak_report"],
                                  unchecked: unreadable.decode([UncheckedCheck].self, r["unchecked_json"], "\(what) unchecked checks") ?? [],
                                  id: r["id"], workloadFailed: r["workload_failed"], round: r["round"], guest: r["guest"])
            }
            let samples = try Row.fetchAll(db, sql: "SELECT * FROM samples WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> Sample? in
                let what = "sample \(r["id"] as Int64)"
                guard let side = unreadable.value(Side.self, r["side"], what), let nic = unreadable.value(NICModel.self, r["nic"], what) else { return nil }
                return Sample(side: side, workload: r["workload"], nic: nic, metric: r["metric"], unit: r["unit"],
                              repetition: r["repetition"], value: r["value"], higherIsBetter: r["higher_is_better"],
                              cpuBusy: r["cpu_busy"], peerCPUBusy: r["peer_cpu_busy"], boot: r["boot_id"])
            }
            let leaks = try Row.fetchAll(db, sql: "SELECT * FROM leaks WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> Leak? in
                guard let side = unreadable.value(Side.self, r["side"], "leak \(r["id"] as Int64)") else { return nil }
                let backtrace: String = r["backtrace"]
                return Leak(side: side, size: r["size"], comm: r["comm"], backtrace: backtrace.split(separator: "\n").map(String.init),
                            fingerprint: r["fingerprint"], raw: r["raw"], round: r["round"], boot: r["boot_id"])
            }
            let patchBuilds = try Row.fetchAll(db, sql: "SELECT id, build_json FROM patch_builds WHERE run_id = ? ORDER BY patch, id", arguments: [id])
                .compactMap { unreadable.decode(PatchBuild.self, $0["build_json"], "patch build \($0["id"] as Int64)") }
            let splats = try Row.fetchAll(db, sql: "SELECT * FROM splats WHERE run_id = ? ORDER BY id", arguments: [id]).compactMap { r -> Splat? in
                let what = "splat \(r["id"] as Int64)"
                guard let side = unreadable.value(Side.self, r["side"], what), let kind = unreadable.value(Splat.Kind.self, r["kind"], what) else { return nil }
                return Splat(side: side, kind: kind, title: r["title"], text: r["text"], boot: r["boot_id"])
            }
            var run = StoredRun(summary: Self.summary(row, unreadable), plan: plan,
                                series: unreadable.decode(Series.self, row["series_json"], "series"),
                                applied: unreadable.decode(AppliedSeries.self, row["applied_json"], "applied series"), phases: phases, builds: builds,
                                boots: boots, samples: samples, leaks: leaks, splats: splats,
                                error: unreadable.decode(ErrorRecord.self, row["error_json"], "error")?.error,
                                environment: unreadable.decode(RunEnvironment.self, row["environment_json"], "environment"),
                                patchBuilds: patchBuilds,
                                configChanges: unreadable.decode([ConfigChange].self, row["config_changes_json"], "config changes"))
            run.unreadable = unreadable.lines
            return run
        }
    }

    // MARK: Groups

    public func createGroup(kind: RunGroup.Kind, label: String, createdAt: String) async throws -> RunGroupID {
        try await write { db in
            try db.execute(sql: "INSERT INTO run_groups (kind, label, created_at) VALUES (?, ?, ?)", arguments: [kind.rawValue, label, createdAt])
            return db.lastInsertedRowID
        }
    }

    public func addToGroup(_ group: RunGroupID, run: RunID, label: String) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO run_group_members (group_id, run_id, position, label)
                VALUES (?, ?, (SELECT COUNT(*) FROM run_group_members WHERE group_id = ?), ?)
                """, arguments: [group, run, group, label])
        }
    }

    public func group(_ id: RunGroupID) async throws -> RunGroup? {
        try await pool.read { db in try Self.group(id, db) }
    }

    static func group(_ id: RunGroupID, _ db: Database) throws -> RunGroup? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM run_groups WHERE id = ?", arguments: [id]) else { return nil }
        let members = try Row.fetchAll(db, sql: "SELECT run_id, label FROM run_group_members WHERE group_id = ? ORDER BY position",
                                       arguments: [id]).map { RunGroup.Member(run: $0["run_id"], label: $0["label"]) }
        guard let kind = RunGroup.Kind(rawValue: row["kind"]) else {
            throw NetrigError(phase: .store, blame: .infrastructure, subject: "group \(id)", message: "unknown group kind '\(row["kind"] as String)'")
        }
        return RunGroup(id: id, kind: kind, label: row["label"], createdAt: row["created_at"], members: members)
    }

    public func groups(of run: RunID) async throws -> [RunGroup] {
        try await pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT group_id FROM run_group_members WHERE run_id = ? ORDER BY group_id", arguments: [run])
                .compactMap { try Self.group($0, db) }
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
