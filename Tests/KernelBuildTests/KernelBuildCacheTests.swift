import Foundation
import HostCommands
@testable import KernelBuild
import NetrigCore
import NetrigFakes
import NetrigTestSupport
import Testing

/// KernelBuilder's content-addressed cache without a tree or a compiler: the host commands are scripted
/// (git, gcc, make, ccache), and make is scripted only where a build is meant to happen, so an unexpected
/// build fails the test. sha256sum runs for real, so the checksums are checked as on the host.
@Suite struct KernelBuildCacheTests {
    static let commit = "1111111111111111111111111111111111111111"
    static let treeHash = "2222222222222222222222222222222222222222"
    static let compiler = "gcc (Debian 12.2.0-14) 12.2.0"
    static let config = KernelConfigSpec(name: "netdevsim", base: "tinyconfig",
                                         fragments: [ConfigFragment(name: "net", text: "CONFIG_NET=y\n")])
    static let programs = [GuestProgram(name: "probe", sources: ["tools/probe.c"])]

    /// A cache directory laid out as the builder expects, a worktree that already exists (so
    /// `TreeWorkspace.worktree(for:)` returns it without git) and a runner that answers the commands every
    /// build runs before it looks at the cache.
    struct Fixture {
        let scratch: String
        let directories: NetrigDirectories
        let runner = ScriptedCommandRunner()
        let tree: KernelTree
        let worktree: String
        let builder: KernelBuilder
        let request: BuildRequest
        let key: String
        var entry: String { directories.kernels + "/" + key }

        init() throws {
            scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-cache-\(UUID().uuidString)").path
            directories = NetrigDirectories(cache: scratch + "/cache", data: scratch + "/data")
            tree = KernelTree(repository: scratch + "/linux", name: "linux (6.12.0)", baseCommit: KernelBuildCacheTests.commit,
                              version: "6.12.0")
            let workspace = TreeWorkspace(directories: directories, runner: runner)
            worktree = workspace.workRoot(for: tree) + "/src"
            try FileManager.default.createDirectory(atPath: worktree + "/.git", withIntermediateDirectories: true)
            builder = KernelBuilder(directories: directories, workspace: workspace, jobs: 2, runner: runner)
            request = BuildRequest(side: .baseline, tree: tree, commit: KernelBuildCacheTests.commit,
                                   config: KernelBuildCacheTests.config, programs: KernelBuildCacheTests.programs)
            key = KernelBuilder.cacheKey(treeHash: KernelBuildCacheTests.treeHash, config: KernelBuildCacheTests.config,
                                         programs: KernelBuildCacheTests.programs, compiler: KernelBuildCacheTests.compiler)
            runner.on("git", ["-C", worktree, "rev-parse", KernelBuildCacheTests.commit + "^{tree}"],
                      reply: .output(KernelBuildCacheTests.treeHash + "\n"))
            runner.on("gcc", ["--version"], reply: .output(KernelBuildCacheTests.compiler + "\nCopyright (C) 2022 Free Software Foundation, Inc.\n"))
            runner.passThrough("sha256sum")
        }

        /// A finished entry as a build leaves it, with or without its `sha256sums`.
        func writeEntry(checksums: Bool) async throws {
            let fm = FileManager.default
            try fm.createDirectory(atPath: entry + "/programs", withIntermediateDirectories: true)
            try "cached kernel".write(toFile: entry + "/bzImage", atomically: true, encoding: .utf8)
            try "CONFIG_NET=y\n".write(toFile: entry + "/config", atomically: true, encoding: .utf8)
            try "cached probe".write(toFile: entry + "/programs/probe", atomically: true, encoding: .utf8)
            try "  CC net/core/dev.o\n".write(toFile: entry + "/build.log", atomically: true, encoding: .utf8)
            let artifact = KernelArtifact(side: .baseline, commit: KernelBuildCacheTests.commit, key: key, configName: "netdevsim",
                                          configHash: "c0ffee", kernelImage: entry + "/bzImage", configPath: entry + "/config",
                                          programs: ["probe": entry + "/programs/probe"], buildLog: entry + "/build.log",
                                          cached: false, buildSeconds: 321, ccacheHitRatio: 0.5, reproducer: [["make", "bzImage"]])
            try JSONEncoder().encode(artifact).write(to: URL(fileURLWithPath: entry + "/artifact.json"))
            if checksums { try await builder.writeChecksums(entry) }
        }

        /// Scripts what a real build runs after the cache missed: the checkout, allnoconfig (which writes
        /// the candidate config), olddefconfig, ccache's counters, make bzImage (which writes `bzImage`),
        /// headers_install and the program's gcc.
        func scriptRebuild() {
            runner.on("git", ["-C", worktree, "am", "--abort"], reply: .success)
            runner.on("git", ["-C", worktree, "checkout", "--quiet", "--detach", "--force", KernelBuildCacheTests.commit], reply: .success)
            runner.on("git", ["-C", worktree, "clean", "-fdxq"], reply: .success)
            for base in ["kernel/configs/tiny.config", "arch/x86/configs/tiny.config", "tools/probe.c"] {
                let path = worktree + "/" + base
                try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try? "# \(base)\n".write(toFile: path, atomically: true, encoding: .utf8)
            }
            let buildDirectory = builder.buildDirectory(for: request)
            runner.on("make", ["-C", worktree]) { command in
                switch command.arguments.last {
                case "allnoconfig":
                    let candidate = buildDirectory + "/" + (command.environment["KCONFIG_CONFIG"] ?? ".config")
                    try "CONFIG_NET=y\n".write(toFile: candidate, atomically: true, encoding: .utf8)
                case "bzImage":
                    try FileManager.default.createDirectory(atPath: buildDirectory + "/arch/x86/boot", withIntermediateDirectories: true)
                    try "rebuilt kernel".write(toFile: buildDirectory + "/arch/x86/boot/bzImage", atomically: true, encoding: .utf8)
                    return .output("  CC net/core/page_pool.o\n")
                default:
                    break
                }
                return .success
            }
            runner.on("ccache", ["--print-stats"], reply: .output("direct_cache_hit\t3\ncache_miss\t1\n"))
            runner.on("gcc", ["-O2", "-static"]) { command in
                guard let index = command.arguments.firstIndex(of: "-o") else { return .failure() }
                try "rebuilt probe".write(toFile: command.arguments[index + 1], atomically: true, encoding: .utf8)
                return .success
            }
        }

        func remove() { try? FileManager.default.removeItem(atPath: scratch) }
    }

    @Test func aValidEntryIsUsedWithoutBuilding() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try await fixture.writeEntry(checksums: true)
        let progress = RecordingProgress()
        let before = fixture.runner.calls.count

        var request = fixture.request
        request.side = .patched
        request.commit = "3333333333333333333333333333333333333333"
        fixture.runner.on("git", ["-C", fixture.worktree, "rev-parse", request.commit + "^{tree}"],
                          reply: .output(Self.treeHash + "\n"))
        let artifact = try await fixture.builder.build(request, progress: progress)

        #expect(artifact.cached)
        #expect(artifact.key == fixture.key)
        #expect(artifact.kernelImage == fixture.entry + "/bzImage")
        #expect(artifact.side == .patched && artifact.commit == request.commit, "the entry serves another commit with the same tree")
        #expect(artifact.buildSeconds == 0 && artifact.ccacheHitRatio == nil)
        #expect(fixture.runner.calls(to: "make").isEmpty)
        #expect(fixture.runner.calls.dropFirst(before).map(\.executable) == ["git", "gcc", "sha256sum"])
        #expect(fixture.runner.calls(to: "sha256sum", ["--check"]).count == 1)
        #expect(progress.lines.contains { $0.contains("cached (\(fixture.key.prefix(12)))") })
    }

    @Test func aCorruptedEntryIsRemovedAndRebuilt() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try await fixture.writeEntry(checksums: true)
        try "trunc".write(toFile: fixture.entry + "/bzImage", atomically: true, encoding: .utf8)
        try "left from the old entry".write(toFile: fixture.entry + "/stale", atomically: true, encoding: .utf8)
        fixture.scriptRebuild()
        let progress = RecordingProgress()

        let artifact = try await fixture.builder.build(fixture.request, progress: progress)

        #expect(progress.lines.contains { $0.contains("is corrupted (bzImage: FAILED)") }, "\(progress.lines)")
        #expect(fixture.runner.calls(to: "make").map { $0.arguments.last } == ["allnoconfig", "olddefconfig", "bzImage", "headers_install"])
        #expect(!artifact.cached)
        #expect(artifact.key == fixture.key)
        #expect(try String(contentsOfFile: artifact.kernelImage, encoding: .utf8) == "rebuilt kernel")
        #expect(try String(contentsOfFile: fixture.entry + "/programs/probe", encoding: .utf8) == "rebuilt probe")
        #expect(!FileManager.default.fileExists(atPath: fixture.entry + "/stale"), "the old entry was removed, not patched up")
        #expect(artifact.reproducer.contains { $0.contains("bzImage") })

        // The new entry has checksums of its own, and they verify: the next build is a hit.
        let again = try await fixture.builder.build(fixture.request, progress: RecordingProgress())
        #expect(again.cached)
        #expect(fixture.runner.calls(to: "make").count == 4, "no second build")
    }

    @Test func aRememberedFailureIsNotRebuilt() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try FileManager.default.createDirectory(atPath: fixture.directories.kernels, withIntermediateDirectories: true)
        let failedLog = fixture.directories.kernels + "/" + fixture.key + ".failed.log"
        try "  CC drivers/net/netdevsim/dev.o\ndrivers/net/netdevsim/dev.c:12:3: error: expected ';' before '}' token\n"
            .write(toFile: failedLog, atomically: true, encoding: .utf8)
        let progress = RecordingProgress()

        await #expect {
            _ = try await fixture.builder.build(fixture.request, progress: progress)
        } throws: { error in
            guard let error = error as? NetrigError else { return false }
            // Remembered, not rebuilt: the build failure's code, its log and `cached`, and no phase (the engine stamps it).
            return error.isCode(.buildFailed) && error.cached && error.log == failedLog && error.phase == nil && error.blame == .baseline
                && error.details.contains("drivers/net/netdevsim/dev.c:12:3: error: expected ';' before '}' token")
        }
        #expect(fixture.runner.calls.map(\.executable) == ["git", "gcc"], "neither make nor anything else ran")
        #expect(progress.lines.contains { $0.contains("failed to build before with the same inputs") })
    }

    @Test func anEntryWithoutChecksumsGetsThem() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try await fixture.writeEntry(checksums: false)
        let sums = fixture.entry + "/" + KernelBuilder.checksumFile
        #expect(!FileManager.default.fileExists(atPath: sums))

        let artifact = try await fixture.builder.build(fixture.request, progress: RecordingProgress())

        #expect(artifact.cached)
        let text = try String(contentsOfFile: sums, encoding: .utf8)
        let files = text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) ?? "" }
        #expect(files == ["artifact.json", "build.log", "bzImage", "config", "programs/probe"])
        #expect(text.contains("6b0f793fb8b7e6520ac3875dec1a0e0031e6e29f2d94c443f565b7e37735b4a5  bzImage"), "sha256 of 'cached kernel'")
        #expect(fixture.runner.calls(to: "make").isEmpty)

        // Written once: the next use checks them instead of writing them again.
        _ = try await fixture.builder.build(fixture.request, progress: RecordingProgress())
        #expect(fixture.runner.calls(to: "sha256sum").map { $0.arguments.first } == ["--", "--check"])
    }

    @Test func theCacheKeyIsStableAndCoversEveryInput() {
        func key(treeHash: String = Self.treeHash, config: KernelConfigSpec = Self.config, programs: [GuestProgram] = Self.programs,
                 compiler: String = Self.compiler) -> String {
            KernelBuilder.cacheKey(treeHash: treeHash, config: config, programs: programs, compiler: compiler)
        }
        let reference = key()
        #expect(reference.count == 64 && reference.allSatisfy(\.isHexDigit))
        #expect(key() == reference, "the same inputs, the same key")
        let other = GuestProgram(name: "another", sources: ["tools/another.c"])
        #expect(key(programs: [other] + Self.programs) == key(programs: Self.programs + [other]), "program order does not matter")

        var fragment = Self.config
        fragment.fragments[0].text = "CONFIG_NET=y\nCONFIG_INET=y\n"
        var shipped = Self.programs
        shipped[0].shipped = ["helper.c": "int helper;\n"]
        let changed = [
            key(treeHash: "4444444444444444444444444444444444444444"), key(config: fragment),
            key(config: KernelConfigSpec(name: "netdevsim", base: "defconfig", fragments: Self.config.fragments)),
            key(programs: []), key(programs: shipped), key(compiler: "gcc (Debian 14.2.0-19) 14.2.0"),
        ]
        #expect(Set(changed + [reference]).count == changed.count + 1, "every input changes the key")
    }
}
