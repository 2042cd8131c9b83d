import FileLocks
import Foundation
import HostCommands
import NetrigTestSupport
import Testing
@testable import KernelBuild
@testable import NetrigCore

/// A worktree of the default tree's base in a scratch directory, removed (and pruned) afterwards.
func withScratchWorktree<T>(_ fixtures: HostFixtures, _ name: String, tree named: NamedTree = .default,
                            _ body: (KernelTree, String, String) async throws -> T) async throws -> T {
    let tree = try await fixtures.tree(named)
    let scratch = fixtures.scratchDirectory(name)
    let repository = Git(directory: tree.repository)
    let worktree = scratch + "/src"
    try await repository.run(["worktree", "add", "--detach", "--quiet", worktree, tree.baseCommit])
    defer {
        _ = try? FileManager.default.removeItem(atPath: scratch)
        Task { _ = try? await repository.tryRun(["worktree", "prune"]) }
    }
    return try await body(tree, worktree, scratch)
}

/// Kconfig for real: Debian's 6.12 tree, allnoconfig + olddefconfig with the default fragments.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct RealConfigTests {
    let fixtures = HostFixtures.shared

    /// A series that adds a Kconfig symbol shows up in the effective-config diff of baseline and patched.
    @Test func aSeriesThatChangesKconfigShowsInTheConfigChanges() async throws {
        try await withScratchWorktree(fixtures, "kconfig") { tree, worktree, scratch in
            let git = Git(directory: worktree)
            let kconfig = worktree + "/net/Kconfig"
            let original = try String(contentsOfFile: kconfig, encoding: .utf8)
            try (original + "\nconfig NETRIG_EXAMPLE_POOL_CHECKS\n\tbool\n\tdefault y\n\tdepends on PAGE_POOL\n")
                .write(toFile: kconfig, atomically: true, encoding: .utf8)
            try await git.run(["-c", "user.name=netrig", "-c", "user.email=netrig@example.org", "commit", "--quiet", "-am",
                               "net: add a Kconfig symbol"])
            let patchedCommit = try await git.run(["rev-parse", "HEAD"])

            let spec = try ConfigCatalog(directory: fixtures.repository + "/kconfigs").spec(named: "default")
            let builder = KernelBuilder(directories: fixtures.directories, workspace: TreeWorkspace(directories: fixtures.directories))
            let buildDirectory = scratch + "/build"
            try FileManager.default.createDirectory(atPath: buildDirectory, withIntermediateDirectories: true)
            var effective: [String: String] = [:]
            for (label, commit) in [("baseline", tree.baseCommit), ("patched", patchedCommit)] {
                try await git.run(["checkout", "--quiet", "--detach", commit])
                var reproducer: [[String]] = []
                let request = BuildRequest(side: label == "baseline" ? .baseline : .patched, tree: tree, commit: commit, config: spec, programs: [])
                _ = try await builder.configure(request, worktree: worktree, buildDirectory: buildDirectory, log: scratch + "/\(label).log",
                                                blame: .series, reproducer: &reproducer)
                effective[label] = try String(contentsOfFile: buildDirectory + "/.config", encoding: .utf8)
            }
            let changes = ConfigChange.between(KernelBuilder.parseConfig(effective["baseline"]!), KernelBuilder.parseConfig(effective["patched"]!))
            #expect(changes == [ConfigChange(symbol: "CONFIG_NETRIG_EXAMPLE_POOL_CHECKS", baseline: "n", patched: "y")])

        }
    }

    /// Every shipped named config holds on every named tree: each requested symbol survives olddefconfig
    /// (configure throws, naming the symbol and the unmet dependency, when one does not). devmem-off has
    /// NET_DEVMEM off on 7.2, where NET_DEVMEM selects GENERIC_ALLOCATOR, as on 6.12.
    @Test(arguments: [NamedTree.debian612.name, NamedTree.debian72.name])
    func everyNamedConfigHoldsOnThisTree(_ treeName: String) async throws {
        // netrig's own worktree of the tree, at its base under the build lock (a scratch worktree would check
        // out 80,000 files per tree); only the configs go to a scratch build directory.
        let tree = try await fixtures.tree(try #require(NamedTree.named(treeName)))
        let workspace = TreeWorkspace(directories: fixtures.directories)
        let worktree = try await workspace.worktree(for: tree)
        let scratch = fixtures.scratchDirectory("configs")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await FileLock.withLock(workspace.workRoot(for: tree) + "/build.lock") {
            try await SeriesApplier(worktree: worktree).checkout(tree.baseCommit, in: Git(directory: worktree))
            let builder = KernelBuilder(directories: fixtures.directories, workspace: workspace)
            let buildDirectory = scratch + "/build"
            try FileManager.default.createDirectory(atPath: buildDirectory, withIntermediateDirectories: true)
            let names = try FileManager.default.contentsOfDirectory(atPath: fixtures.repository + "/kconfigs")
                .filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) }.sorted()
            #expect(names.contains("devmem-off") && names.contains("debug"))
            for name in names {
                let named = try ConfigCatalog(directory: fixtures.repository + "/kconfigs").spec(named: name)
                var reproducer: [[String]] = []
                let request = BuildRequest(side: .baseline, tree: tree, commit: tree.baseCommit, config: named, programs: [])
                _ = try await builder.configure(request, worktree: worktree, buildDirectory: buildDirectory, log: scratch + "/\(name).log",
                                                blame: .usage, reproducer: &reproducer)
                let values = KernelBuilder.parseConfig(try String(contentsOfFile: buildDirectory + "/.config", encoding: .utf8))
                #expect((values["CONFIG_NET_DEVMEM"] ?? "n") == (name == "devmem-off" ? "n" : "y"), "\(treeName) \(name)")
                if name == "debug" {
                    #expect(values["CONFIG_KASAN"] == "y" && values["CONFIG_DMA_API_DEBUG"] == "y" && values["CONFIG_INTEL_IOMMU"] == "y")
                }
            }
        }
    }
}

/// Bad configs and a full disk, for real, on Debian's 6.12 tree: each named with its symbol or its disk.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct RealBuildFaultTests {
    let fixtures = HostFixtures.shared

    /// A symbol whose dependencies are not met (olddefconfig drops it silently): the error names the symbol
    /// and what it depends on. (A symbol the tree does not know: `FaultSuiteTests.aConfigWithAnUnknownSymbol…`,
    /// through a whole run.)
    @Test func aSymbolWithUnmetDependenciesIsNamed() async throws {
        try await withScratchWorktree(fixtures, "bad-symbols") { tree, worktree, scratch in
            let base = try ConfigCatalog(directory: fixtures.repository + "/kconfigs").spec(named: "default")
            let builder = KernelBuilder(directories: fixtures.directories, workspace: TreeWorkspace(directories: fixtures.directories))
            try FileManager.default.createDirectory(atPath: scratch + "/build", withIntermediateDirectories: true)
            for (symbol, words) in [("CONFIG_BT_HCIBTUSB", "USB")] {
                var spec = base
                spec.fragments.append(ConfigFragment(name: "bad", text: "\(symbol)=y\n"))
                var reproducer: [[String]] = []
                let request = BuildRequest(side: .baseline, tree: tree, commit: tree.baseCommit, config: spec, programs: [])
                do {
                    _ = try await builder.configure(request, worktree: worktree, buildDirectory: scratch + "/build", log: scratch + "/log",
                                                    blame: .usage, reproducer: &reproducer)
                    Issue.record("\(symbol) was accepted")
                } catch let error as NetrigError {
                    let text = "\(error)"
                    #expect(text.contains(symbol) && text.contains(words), "\(text)")
                    #expect(error.isCode(.configRefused) && error.blame == .usage && error.phase == nil, "the engine stamps the phase")
                }
            }
        }
    }

    /// A cached kernel whose bzImage was cut short is never booted: the entry's checksums do not verify, it
    /// is named, removed and built again, and the new entry verifies. (The real default kernel's entry.)
    @Test func aCorruptedCacheEntryIsBuiltAgain() async throws {
        let request = try await fixtures.defaultBuildRequest()
        let builder = KernelBuilder(directories: fixtures.directories, workspace: TreeWorkspace(directories: fixtures.directories))
        let first = try await builder.build(request, progress: SilentProgress())
        let entry = (first.kernelImage as NSString).deletingLastPathComponent
        guard case .valid = await builder.loadCached(entry, side: .baseline, commit: request.commit) else {
            Issue.record("a fresh entry verifies"); return
        }
        #expect(FileManager.default.fileExists(atPath: entry + "/" + KernelBuilder.checksumFile))
        let image = try Data(contentsOf: URL(fileURLWithPath: first.kernelImage))
        try image.prefix(image.count / 2).write(to: URL(fileURLWithPath: first.kernelImage))
        guard case .corrupted(let reason) = await builder.loadCached(entry, side: .baseline, commit: request.commit) else {
            Issue.record("a truncated bzImage passed"); return
        }
        #expect(reason.contains("bzImage"), "\(reason)")

        let progress = RecordingProgress()
        let rebuilt = try await builder.build(request, progress: progress)
        #expect(!rebuilt.cached)
        #expect(progress.lines.contains { $0.contains("corrupted") && $0.contains("bzImage") }, "\(progress.lines)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: rebuilt.kernelImage)).count == image.count)
        guard case .valid = await builder.loadCached(entry, side: .baseline, commit: request.commit) else {
            Issue.record("the rebuilt entry verifies"); return
        }
        // A record that no longer decodes counts as corrupted too, never as absent or valid.
        let scratch = fixtures.scratchDirectory("bad-record")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try "{".write(toFile: scratch + "/artifact.json", atomically: true, encoding: .utf8)
        guard case .corrupted = await builder.loadCached(scratch, side: .baseline, commit: request.commit) else {
            Issue.record("a broken record passed"); return
        }
    }

    /// The build directory on a small file system: make fails with ENOSPC, and netrig says the disk is
    /// full (not that the code does not build), caches no failure, and leaves no half-made cache entry.
    @Test func aFullDiskIsNamedAndNothingHalfMadeStays() async throws {
        let tree = try await fixtures.defaultTree()
        var spec = try ConfigCatalog(directory: fixtures.repository + "/kconfigs").spec(named: "default")
        spec.name = "netrig-test-disk-full"
        // A config of its own (a cache miss), close to the default so that ccache serves most objects.
        spec.fragments.append(ConfigFragment(name: "disk-full", text: "CONFIG_LOCALVERSION=\"-diskfull\"\n"))
        let workspace = TreeWorkspace(directories: fixtures.directories)
        let builder = KernelBuilder(directories: fixtures.directories, workspace: workspace)
        let request = BuildRequest(side: .baseline, tree: tree, commit: tree.baseCommit, config: spec, programs: [])
        let buildDirectory = builder.buildDirectory(for: request)
        try FileManager.default.createDirectory(atPath: buildDirectory, withIntermediateDirectories: true)
        let runner = HostCommandRunner()
        let mount = try await runner.run(HostCommand("mount", ["-t", "tmpfs", "-o", "size=24m", "netrig-test-disk-full", buildDirectory]),
                                         timeout: .seconds(30))
        try #require(mount.exitStatus == 0, "mount a small tmpfs: \(mount.standardError)")
        defer {
            if let umount = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: ["-l", buildDirectory]) { umount.waitUntilExit() }
        }
        do {
            _ = try await builder.build(request, progress: SilentProgress())
            Issue.record("the build fitted into 24 MiB")
        } catch let error as NetrigError {
            #expect(error.isCode(.outOfDisk) && error.message.hasPrefix("the build ran out of disk space"), "\(error)")
            #expect(error.blame == .infrastructure && error.subject == "disk of \(buildDirectory)" && error.log != nil)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixtures.directories.kernels).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
        let failedLogs = try FileManager.default.contentsOfDirectory(atPath: fixtures.directories.kernels).filter { $0.hasSuffix(".failed.log") }
        #expect(!failedLogs.contains { (try? String(contentsOfFile: fixtures.directories.kernels + "/" + $0, encoding: .utf8))?
            .contains("No space left on device") == true }, "a full disk is not remembered as a failure of the code")
    }
}

/// The Debian tree as netrig imports it, on this machine's real cache.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct DebianImportTests {
    /// Its one commit is made from its tree with netrig's identity, a fixed date and no parent: the same
    /// commit on every machine with the same linux-source package, so a series written there with
    /// `git format-patch --base` names a base that exists here (examples/broken-middle-patch.mbox does).
    @Test func theImportCommitIsTheSameOnEveryMachine() async throws {
        let tree = try await HostFixtures.shared.defaultTree()
        let git = Git(directory: tree.repository)
        let shown = try await git.run(["show", "-s", "--format=%P|%an <%ae>|%aI|%cn <%ce>|%cI|%s", tree.baseCommit])
        #expect(shown == "|netrig <netrig@localhost>|2000-01-01T00:00:00+00:00|netrig <netrig@localhost>|2000-01-01T00:00:00+00:00|"
                + NamedTree.debian612.importMessage(version: tree.version), "\(shown)")
        let remade = try await git.run(["commit-tree", tree.baseCommit + "^{tree}", "-m", NamedTree.debian612.importMessage(version: tree.version)],
                                       environment: ["GIT_AUTHOR_DATE": Git.fixedDate])
        #expect(remade == tree.baseCommit)
        let example = try String(contentsOfFile: HostFixtures.shared.repository + "/examples/broken-middle-patch.mbox", encoding: .utf8)
        #expect(example.contains("base-commit: \(tree.baseCommit)"), "the example's base is this import")
    }
}
