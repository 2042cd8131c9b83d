import Crypto
import Digests
import FileLocks
import Foundation
import HostCommands
import NetrigCore
import Synchronization

/// Builds kernels and the guest programs that go with them, in netrig's worktree, with ccache, into a
/// content-addressed cache: the same tree contents, config request, programs and compiler never build twice.
/// Both sides of a run share one build directory per config, so the patched build only recompiles what the
/// series touched.
public struct KernelBuilder: Sendable {
    public var directories: NetrigDirectories
    public var workspace: TreeWorkspace
    public var jobs: Int
    var runner: any CommandRunner

    public init(directories: NetrigDirectories, workspace: TreeWorkspace,
                jobs: Int = ProcessInfo.processInfo.activeProcessorCount + 1, runner: any CommandRunner = HostCommandRunner()) {
        self.directories = directories
        self.workspace = workspace
        self.jobs = jobs
        self.runner = runner
    }

    /// Bump when the build recipe changes in a way that makes old artifacts wrong.
    static let scheme = "netrig-build-3+ynl-probed+linebuf"

    public func build(_ request: BuildRequest, progress: any ProgressObserver) async throws -> KernelArtifact {
        let blame: NetrigError.Blame = request.side == .baseline ? .baseline : .series
        let worktree = try await workspace.worktree(for: request.tree)
        let git = Git(directory: worktree, runner: runner)
        let treeHash = try await git.run(["rev-parse", request.commit + "^{tree}"])
        let compiler = try await runner.run(HostCommand("gcc", ["--version"])).standardOutput.lastLines(99).first ?? "gcc"
        let key = Self.cacheKey(treeHash: treeHash, config: request.config, programs: request.programs, compiler: compiler)
        let artifactDirectory = directories.kernels + "/" + key
        switch await loadCached(artifactDirectory, side: request.side, commit: request.commit) {
        case .valid(let cached):
            progress.note("\(request.side.rawValue) kernel: cached (\(key.prefix(12))), nothing to build")
            return cached
        case .corrupted(let reason):
            // Never booted as it is: removed (under the build lock, so no other build is reading it) and rebuilt.
            progress.note("\(request.side.rawValue) kernel: the cache entry \(key.prefix(12)) is corrupted (\(reason)): building it again")
            try await FileLock.withLock(workspace.workRoot(for: request.tree) + "/build.lock") {
                try? FileManager.default.removeItem(atPath: artifactDirectory)
            }
        case .absent:
            break
        }
        // The same inputs fail the same way: a compiler error is remembered, not rebuilt.
        let failedLog = directories.kernels + "/" + key + ".failed.log"
        if FileManager.default.fileExists(atPath: failedLog) {
            progress.note("\(request.side.rawValue) kernel: failed to build before with the same inputs (\(key.prefix(12)))")
            var failure = buildFailure(log: failedLog, request: request, blame: blame)
            failure.cached = true
            throw failure
        }
        let workRoot = workspace.workRoot(for: request.tree)
        return try await FileLock.withLock(workRoot + "/build.lock") {
            let start = ContinuousClock.now
            let buildDirectory = buildDirectory(for: request)
            let logDirectory = workRoot + "/logs"
            try FileManager.default.createDirectory(atPath: buildDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
            let log = logDirectory + "/\(request.side.rawValue)-\(key.prefix(12)).log"
            try? FileManager.default.removeItem(atPath: log)
            try await SeriesApplier(worktree: worktree, runner: runner).checkout(request.commit, in: git)

            var reproducer: [[String]] = []
            let configHash = try await configure(request, worktree: worktree, buildDirectory: buildDirectory,
                                                 log: log, blame: blame, reproducer: &reproducer, compiler: compiler)
            let before = try await ccacheStats()
            progress.status("\(request.side.rawValue): make bzImage (-j\(jobs))")
            let make = makeCommand(worktree: worktree, buildDirectory: buildDirectory, targets: ["bzImage"])
            reproducer.append(make.argv)
            let counter = Mutex((objects: 0, last: ContinuousClock.now))
            let side = request.side.rawValue
            let status = try await runner.run(make, logTo: log) { line in
                guard line.hasPrefix("  CC ") || line.hasPrefix("  AS ") || line.hasPrefix("  LD ") else { return }
                let report: String? = counter.withLock { state in
                    state.objects += 1
                    let now = ContinuousClock.now
                    guard now - state.last > .seconds(2) else { return nil }
                    state.last = now
                    let elapsed = Int((now - start).components.seconds)
                    return "\(side): \(state.objects) objects, \(elapsed / 60)m\(String(format: "%02d", elapsed % 60))s: \(line.trimmingWhitespace)"
                }
                if let report { progress.status(report) }
            }
            if status != 0 {
                // Interrupted (SIGINT, SIGTERM): not the series' fault, and nothing to remember.
                try Task.checkCancellation()
                if let full = Self.outOfSpace(log: log, directory: buildDirectory) {
                    throw NetrigError(blame: .infrastructure, subject: "disk of \(buildDirectory)",
                                      message: "the build ran out of disk space (\(full))",
                                      details: lastErrors(log) + ["free space under \(buildDirectory) and run again; the cache is under \(artifactDirectory)"],
                                      code: .outOfDisk, log: log)
                }
                // Only a compiler's error is certain to repeat; a killed or out-of-space build is retried next time.
                if cancelled() == false, hasCompilerError(log) {
                    try? FileManager.default.removeItem(atPath: failedLog)
                    try? FileManager.default.copyItem(atPath: log, toPath: failedLog)
                }
                throw buildFailure(log: log, request: request, blame: blame)
            }
            let headers = makeCommand(worktree: worktree, buildDirectory: buildDirectory, targets: ["headers_install"])
            reproducer.append(headers.argv)
            guard try await runner.run(headers, logTo: log) == 0 else {
                throw NetrigError(blame: .infrastructure, subject: "make headers_install",
                                  message: "failed", log: log)
            }
            let after = try await ccacheStats()

            let staging = artifactDirectory + ".tmp-\(getpid())"
            try? FileManager.default.removeItem(atPath: staging)
            // Gone once moved into place; a failure on the way leaves no half-made entry behind.
            defer { try? FileManager.default.removeItem(atPath: staging) }
            try FileManager.default.createDirectory(atPath: staging + "/programs", withIntermediateDirectories: true)
            var programs: [String: String] = [:]
            // Linked into every program: stdout line-buffered even into a file, so a server that netrig stops
            // with a signal has written its report (the programs are static, so stdbuf cannot do it).
            let lineBuffered = buildDirectory + "/netrig-linebuf.c"
            try Self.lineBufferedSource.write(toFile: lineBuffered, atomically: true, encoding: .utf8)
            for program in request.programs {
                let output = staging + "/programs/" + program.name
                // Sources the workload needs from the tree are checked before gcc runs: a tree that lacks one
                // (another layout, another version) is named with the path, not as a compiler error.
                if let missing = program.sources.first(where: { !FileManager.default.fileExists(atPath: worktree + "/" + $0) }) {
                    throw NetrigError(blame: request.side == .baseline ? .usage : .series, subject: "program \(program.name)",
                                      message: "the tree has no \(missing), which the workload's program is built from",
                                      details: ["looked at: \(worktree)/\(missing)"])
                }
                let shippedDirectory = buildDirectory + "/netrig-programs/" + program.name
                var shipped: [String] = []
                for (file, text) in (program.shipped ?? [:]).sorted(by: { $0.key < $1.key }) {
                    try FileManager.default.createDirectory(atPath: shippedDirectory, withIntermediateDirectories: true)
                    try text.write(toFile: shippedDirectory + "/" + file, atomically: true, encoding: .utf8)
                    if file.hasSuffix(".c") { shipped.append(shippedDirectory + "/" + file) }
                }
                let compile = HostCommand("gcc", ["-O2", "-static", "-Wall", "-I", buildDirectory + "/usr/include", "-o", output]
                    + program.sources.map { worktree + "/" + $0 } + shipped + [lineBuffered] + program.libraries)
                reproducer.append(compile.argv)
                guard try await runner.run(compile, logTo: log) == 0 else {
                    throw NetrigError(blame: blame, subject: "program \(program.name)",
                                      message: "does not compile against this tree", details: lastErrors(log), log: log)
                }
                programs[program.name] = artifactDirectory + "/programs/" + program.name
            }
            // The tree's own ynl CLI and netlink specs, for the page_pool state collector and the netlink
            // workloads (the netlink API is the tree's, like the programs' UAPI): a tar the guest unpacks,
            // wherever this tree keeps them. A tree without them leaves the checks that need them unchecked,
            // said with every path looked at, never passed over.
            var unchecked: [UncheckedCheck] = []
            switch TreeTools.ynl(in: worktree) {
            case .success(let ynl):
                let pack = HostCommand("tar", TreeTools.ynlPackArguments(ynl, worktree: worktree, output: staging + "/programs/ynl"))
                guard try await runner.run(pack, logTo: log) == 0 else {
                    throw NetrigError(blame: .infrastructure, subject: "ynl (\(ynl.cli))",
                                      message: "cannot pack the tree's ynl CLI", log: log)
                }
                programs["ynl"] = artifactDirectory + "/programs/ynl"
            case .failure(let missing):
                unchecked.append(UncheckedCheck(check: UncheckedCheck.pagePoolLeftovers, reason: missing.description))
            }
            try FileManager.default.copyItem(atPath: buildDirectory + "/arch/x86/boot/bzImage", toPath: staging + "/bzImage")
            try FileManager.default.copyItem(atPath: buildDirectory + "/.config", toPath: staging + "/config")
            try FileManager.default.copyItem(atPath: log, toPath: staging + "/build.log")
            let hits = (after.hits - before.hits), misses = (after.misses - before.misses)
            var artifact = KernelArtifact(
                side: request.side, commit: request.commit, key: key, configName: request.config.name,
                configHash: configHash, kernelImage: artifactDirectory + "/bzImage", configPath: artifactDirectory + "/config",
                programs: programs, buildLog: artifactDirectory + "/build.log", cached: false,
                buildSeconds: Double((ContinuousClock.now - start).components.seconds),
                ccacheHitRatio: hits + misses > 0 ? Double(hits) / Double(hits + misses) : nil, reproducer: reproducer)
            artifact.unchecked = unchecked
            try JSONEncoder().encode(artifact).write(to: URL(fileURLWithPath: staging + "/artifact.json"))
            try await writeChecksums(staging)
            try? FileManager.default.removeItem(atPath: artifactDirectory)
            try FileManager.default.moveItem(atPath: staging, toPath: artifactDirectory)
            return artifact
        }
    }

    /// Both sides and every patch of a config share this directory, so each build is incremental.
    public func buildDirectory(for request: BuildRequest) -> String {
        workspace.workRoot(for: request.tree) + "/build/\(request.config.name)"
    }

    static let lineBufferedSource = """
    #include <stdio.h>
    __attribute__((constructor)) static void netrig_line_buffered_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

    """

    static func cacheKey(treeHash: String, config: KernelConfigSpec, programs: [GuestProgram], compiler: String) -> String {
        var hasher = SHA256()
        hasher.update(scheme + "\n" + treeHash + "\n" + config.base + "\n" + compiler + "\n")
        for fragment in config.fragments { hasher.update("fragment \(fragment.name)\n\(fragment.text)\n") }
        for program in programs.sorted(by: { $0.name < $1.name }) {
            hasher.update("program \(program.name) \(program.sources.joined(separator: " ")) \(program.libraries.joined(separator: " "))\n")
            for (file, text) in (program.shipped ?? [:]).sorted(by: { $0.key < $1.key }) { hasher.update("shipped \(file)\n\(text)\n") }
        }
        return hasher.finalize().hex
    }

    /// What the build cache holds for a key.
    enum CacheEntry {
        case absent
        case valid(KernelArtifact)
        /// Present but not usable as it is: a record that does not decode, a file missing, or a file whose
        /// checksum changed since it was built (a truncated or overwritten bzImage).
        case corrupted(String)
    }

    /// The checksum file of a cache entry: `sha256sum` lines for every file the entry holds, relative paths.
    static let checksumFile = "sha256sums"

    /// A cache entry counts only when its record decodes, every file it names exists and every file still
    /// has the checksum recorded when it was built. Entries from before checksums were recorded get them
    /// on first use.
    func loadCached(_ directory: String, side: Side, commit: String) async -> CacheEntry {
        let fm = FileManager.default
        guard fm.fileExists(atPath: directory) else { return .absent }
        guard let data = fm.contents(atPath: directory + "/artifact.json") else { return .corrupted("artifact.json is missing") }
        guard var artifact = try? JSONDecoder().decode(KernelArtifact.self, from: data) else {
            return .corrupted("artifact.json does not decode")
        }
        let files = [artifact.kernelImage, artifact.configPath] + Array(artifact.programs.values)
        if let missing = files.first(where: { !fm.fileExists(atPath: $0) }) {
            return .corrupted("\((missing as NSString).lastPathComponent) is missing")
        }
        if fm.fileExists(atPath: directory + "/" + Self.checksumFile) {
            let check = try? await runner.run(HostCommand("sha256sum", ["--check", "--strict", "--quiet", Self.checksumFile],
                                                          workingDirectory: directory))
            guard let check, check.succeeded else {
                let failed = (check?.standardOutput ?? "").split(separator: "\n").map { String($0) }.filter { $0.contains("FAILED") }
                return .corrupted(failed.isEmpty ? "its checksums do not verify" : failed.joined(separator: ", "))
            }
        } else {
            try? await writeChecksums(directory)
        }
        artifact.side = side
        artifact.commit = commit
        artifact.cached = true
        artifact.buildSeconds = 0
        artifact.ccacheHitRatio = nil
        return .valid(artifact)
    }

    /// Records the checksum of every file of an entry (the record itself, the kernel, its config, its log and
    /// its programs).
    func writeChecksums(_ directory: String) async throws {
        let fm = FileManager.default
        let files = (fm.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? [])
            .filter { $0 != Self.checksumFile && !$0.hasSuffix(".tmp") }
            .filter { var isDirectory: ObjCBool = false; return fm.fileExists(atPath: directory + "/" + $0, isDirectory: &isDirectory) && !isDirectory.boolValue }
            .sorted()
        let sums = try await runner.run(HostCommand("sha256sum", ["--"] + files, workingDirectory: directory))
        guard sums.succeeded else {
            throw NetrigError(blame: .infrastructure, subject: directory, message: "sha256sum failed",
                              details: sums.standardError.lastLines(3))
        }
        try sums.standardOutput.write(toFile: directory + "/" + Self.checksumFile + ".tmp", atomically: false, encoding: .utf8)
        _ = try? fm.removeItem(atPath: directory + "/" + Self.checksumFile)
        try fm.moveItem(atPath: directory + "/" + Self.checksumFile + ".tmp", toPath: directory + "/" + Self.checksumFile)
    }

    func makeCommand(worktree: String, buildDirectory: String, targets: [String], extra: [String] = []) -> HostCommand {
        HostCommand("make", ["-C", worktree, "O=" + buildDirectory, "-j\(jobs)", "CC=ccache gcc", "HOSTCC=ccache gcc"] + extra + targets,
                    environment: [
                        "CCACHE_DIR": directories.ccache, "CCACHE_BASEDIR": directories.cache,
                        "KBUILD_BUILD_TIMESTAMP": "netrig", "KBUILD_BUILD_USER": "netrig", "KBUILD_BUILD_HOST": "netrig",
                    ])
    }

    /// Writes the config (tinyconfig's fragments plus the requested ones through allnoconfig, then
    /// olddefconfig) and proves every requested symbol held. `.config` is replaced only when it changes, so
    /// an unchanged config rebuilds nothing.
    func configure(_ request: BuildRequest, worktree: String, buildDirectory: String, log: String,
                   blame: NetrigError.Blame, reproducer: inout [[String]], compiler: String = "") async throws -> String {
        var merged = ""
        for base in ["kernel/configs/tiny.config", "arch/x86/configs/tiny.config"] {
            // A tree without them would build some other config, silently.
            guard let text = try? String(contentsOfFile: worktree + "/" + base, encoding: .utf8) else {
                throw NetrigError(blame: blame, subject: "config \(request.config.name)",
                                  message: "the tree has no \(base): netrig's configs start from tinyconfig", details: ["looked at: \(worktree)/\(base)"])
            }
            merged += text + "\n"
        }
        for fragment in request.config.fragments { merged += "# fragment \(fragment.name)\n\(fragment.text)\n" }
        let allconfig = buildDirectory + "/netrig.allconfig"
        try merged.write(toFile: allconfig, atomically: true, encoding: .utf8)
        let candidate = "netrig.candidate"
        var generate = makeCommand(worktree: worktree, buildDirectory: buildDirectory, targets: ["allnoconfig"],
                                   extra: ["KCONFIG_ALLCONFIG=" + allconfig])
        generate.environment["KCONFIG_CONFIG"] = candidate
        let olddefconfig = makeCommand(worktree: worktree, buildDirectory: buildDirectory, targets: ["olddefconfig"])
        reproducer.append(generate.argv)
        reproducer.append(olddefconfig.argv)
        // The effective config depends on the fragments, the compiler and the tree's Kconfig files only: when
        // none of them changed since this directory was last configured, its .config stands (saves the ~4 s
        // that allnoconfig and olddefconfig take on every incremental build). The symbols are checked again.
        let stampPath = buildDirectory + "/netrig.configured"
        let stampKey = SHA256.hex(merged + "\n" + compiler)
        if let stamp = try? String(contentsOfFile: stampPath, encoding: .utf8),
           case let fields = stamp.split(separator: " ").map(String.init), fields.count == 2, fields[0] == stampKey,
           FileManager.default.fileExists(atPath: buildDirectory + "/.config"),
           try await kconfigUnchanged(worktree: worktree, from: fields[1], to: request.commit) {
            Self.append("netrig: configuration unchanged since \(fields[1].prefix(12)) (same fragments, compiler and Kconfig files)\n",
                        to: log)
        } else {
            try? FileManager.default.removeItem(atPath: stampPath)
            guard try await runner.run(generate, logTo: log) == 0 else {
                throw NetrigError(blame: blame, subject: request.config.name, message: "allnoconfig failed",
                                  details: lastErrors(log), code: .configRefused, log: log)
            }
            let candidateText = try String(contentsOfFile: buildDirectory + "/" + candidate, encoding: .utf8)
            let currentText = try? String(contentsOfFile: buildDirectory + "/.config", encoding: .utf8)
            if candidateText != currentText {
                try candidateText.write(toFile: buildDirectory + "/.config", atomically: true, encoding: .utf8)
            }
            guard try await runner.run(olddefconfig, logTo: log) == 0 else {
                throw NetrigError(blame: blame, subject: request.config.name, message: "olddefconfig failed",
                                  details: lastErrors(log), code: .configRefused, log: log)
            }
            try "\(stampKey) \(request.commit)".write(toFile: stampPath, atomically: true, encoding: .utf8)
        }
        let effectiveText = try String(contentsOfFile: buildDirectory + "/.config", encoding: .utf8)
        let dropped = try await verify(request.config, effective: effectiveText, worktree: worktree)
        if !dropped.isEmpty {
            throw NetrigError(blame: blame, subject: dropped.map(\.symbol).joined(separator: ", "),
                              message: "requested symbol(s) did not survive olddefconfig (\(request.side.rawValue) at \(request.commit.prefix(12)))",
                              details: dropped.map { "\($0.symbol)=\($0.requested) became \($0.actual): \($0.reason)" }, code: .configRefused)
        }
        return SHA256.hex(effectiveText)
    }

    /// Every symbol a fragment sets must hold its value; each one that does not is explained.
    public func verify(_ spec: KernelConfigSpec, effective text: String, worktree: String) async throws -> [DroppedSymbol] {
        let effective = Self.parseConfig(text)
        let explainer = KconfigExplainer(worktree: worktree, effective: effective, runner: runner)
        var dropped: [DroppedSymbol] = []
        for assignment in spec.requested {
            let actual = effective[assignment.symbol] ?? "n"
            guard actual != assignment.value else { continue }
            let reason = try await explainer.explain(assignment.symbol, requested: assignment.value)
            dropped.append(DroppedSymbol(symbol: assignment.symbol, requested: assignment.value, actual: actual, reason: reason))
        }
        return dropped
    }

    static func parseConfig(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if let assignment = ConfigAssignment(line: String(line)) { values[assignment.symbol] = assignment.value }
        }
        return values
    }

    /// Why a failed build is a full disk rather than the code: the log says "No space left on device", or
    /// the file system of the build directory has less than 64 MiB left. nil otherwise.
    static func outOfSpace(log: String, directory: String) -> String? {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if text.contains("No space left on device") { return "No space left on device" }
        var stats = statvfs()
        if statvfs(directory, &stats) == 0 {
            let free = UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
            if free < 64 << 20 { return "\(free >> 20) MiB left" }
        }
        return nil
    }

    /// make failed on the kernel: `.buildFailed` with its log (what PatchBuilds reads), as opposed to a
    /// config that cannot be had (`.configRefused`) or a full disk (`.outOfDisk`).
    func buildFailure(log: String, request: BuildRequest, blame: NetrigError.Blame) -> NetrigError {
        NetrigError(blame: blame, subject: "\(request.side.rawValue) kernel at \(request.commit.prefix(12))",
                    message: "the build failed", details: lastErrors(log), code: .buildFailed, log: log)
    }

    static func append(_ text: String, to path: String) {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(text.utf8))
    }

    /// No Kconfig file, config fragment of the tree or kconfig tool differs between two commits.
    func kconfigUnchanged(worktree: String, from: String, to: String) async throws -> Bool {
        guard from != to else { return true }
        let diff = try await Git(directory: worktree, runner: runner).tryRun(["diff", "--quiet", from, to, "--", ":(glob)**/Kconfig*",
                                                              "kernel/configs", "arch/x86/configs", "scripts/kconfig", "Makefile"])
        return diff.exitStatus == 0
    }

    /// A `file:line:col: error:` from the compiler; not an OOM kill or a full disk, which name no line.
    func hasCompilerError(_ log: String) -> Bool {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return false }
        return BuildLogReader(worktree: "/", buildDirectory: "/").diagnostics(text).contains { $0.severity == .error }
    }

    func cancelled() -> Bool { Task.isCancelled }

    /// The first compiler errors (`file:line:col: error: ...`), else the log's last lines.
    func lastErrors(_ log: String) -> [String] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        let errors = text.split(separator: "\n").filter { $0.contains(": error: ") || $0.contains(": fatal error: ") }
        return errors.isEmpty ? text.lastLines(6) : errors.prefix(3).map(String.init)
    }

    /// ccache's cumulative hit and miss counters.
    func ccacheStats() async throws -> (hits: Int, misses: Int) {
        let result = try await runner.run(HostCommand("ccache", ["--print-stats"], environment: ["CCACHE_DIR": directories.ccache]))
        var values: [String: Int] = [:]
        for line in result.standardOutput.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 2, let value = Int(fields[1]) { values[String(fields[0])] = value }
        }
        return ((values["direct_cache_hit"] ?? 0) + (values["preprocessed_cache_hit"] ?? 0), values["cache_miss"] ?? 0)
    }
}

/// The kernel side of a run on this machine.
public struct LocalKernelPipeline: KernelPipeline {
    public var workspace: TreeWorkspace
    public var builder: KernelBuilder
    public var catalog: ConfigCatalog
    public var progress: any ProgressObserver

    public init(directories: NetrigDirectories, kconfigDirectory: String, progress: any ProgressObserver,
                runner: any CommandRunner = HostCommandRunner()) {
        workspace = TreeWorkspace(directories: directories, runner: runner)
        builder = KernelBuilder(directories: directories, workspace: workspace, runner: runner)
        catalog = ConfigCatalog(directory: kconfigDirectory)
        self.progress = progress
    }

    public func prepareTree(request: String?, base: String?, series: Series) async throws -> KernelTree {
        try await workspace.prepare(request: request, base: base, series: series, progress: progress)
    }

    public func apply(_ series: Series, on tree: KernelTree) async throws -> AppliedSeries {
        let worktree = try await workspace.worktree(for: tree)
        return try await FileLock.withLock(workspace.workRoot(for: tree) + "/build.lock") {
            try await SeriesApplier(worktree: worktree, runner: builder.runner).apply(series, base: tree.baseCommit)
        }
    }

    public func configSpec(named name: String) throws -> KernelConfigSpec {
        try catalog.spec(named: name)
    }

    public func build(_ request: BuildRequest, progress: any ProgressObserver) async throws -> KernelArtifact {
        try await builder.build(request, progress: progress)
    }
}
