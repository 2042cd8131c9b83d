import Crypto
import Digests
import FileLocks
import Foundation
import HostCommands
import NetrigCore

/// Kernel trees and the worktrees netrig builds in. The user's checkout is never modified: netrig
/// checks commits out in its own worktree under the cache.
public struct TreeWorkspace: Sendable {
    public var directories: NetrigDirectories
    /// Where named trees' tarballs come from.
    public var debian: DebianSource
    /// Runs git, tar and what the Debian source needs.
    public var runner: any CommandRunner

    public init(directories: NetrigDirectories, runner: any CommandRunner = HostCommandRunner()) {
        self.directories = directories
        self.runner = runner
        self.debian = DebianSource(directories: directories, runner: runner)
    }

    /// Resolves the tree (`nil` means the default named tree, a name like `debian-7.2` that tree, anything
    /// else a path) and the base commit: `--base`, else the series' `base-commit:` trailer when the tree
    /// has it, else the tree's HEAD.
    public func prepare(request: String?, base: String?, series: Series?,
                        progress: any ProgressObserver) async throws -> KernelTree {
        let repository: String
        let name: String
        let named = request.map(NamedTree.named) ?? NamedTree.default
        if let named {
            repository = try await importDebianTree(named, progress: progress)
            name = named.title
        } else {
            repository = try await userTree(request!)
            name = request!
        }
        let git = Git(directory: repository, runner: runner)
        let baseRef: String
        if let base {
            baseRef = base
        } else if let trailer = series?.baseCommit {
            // Never a silent HEAD: a series applied elsewhere than its base may fail (blamed on the series)
            // or pass (a proof about another base).
            guard try await git.tryRun(["cat-file", "-e", trailer + "^{commit}"]).succeeded else {
                throw NetrigError(blame: .usage, subject: "base-commit \(trailer)",
                                  message: "the series' base-commit is not in \(name) (\(repository))",
                                  details: ["fix: fetch it into a tree of yours and give that tree: git -C TREE fetch REMOTE \(trailer); netrig run --tree TREE",
                                            "or test the series on another base, knowingly: --base REF (e.g. --base HEAD)"],
                                  code: .treeRefused)
            }
            baseRef = trailer
        } else {
            baseRef = "HEAD"
        }
        let resolved = try await git.tryRun(["rev-parse", "--verify", "--quiet", baseRef + "^{commit}"])
        guard resolved.succeeded else {
            throw NetrigError(blame: .usage, subject: "--base \(baseRef)",
                              message: "no such commit in \(repository)", code: .treeRefused)
        }
        let commit = resolved.standardOutput.trimmingWhitespace
        let version = (try? await kernelVersion(repository: repository, commit: commit)) ?? "unknown"
        if let parsed = KernelVersion(version), parsed < NamedTree.oldestSupportedVersion {
            throw NetrigError(blame: .usage, subject: "--tree \(request ?? name)",
                              message: "Linux \(version) is older than netrig supports (\(NamedTree.oldestSupportedVersion.major).\(NamedTree.oldestSupportedVersion.minor) or newer: netmem, page_pool's netlink API and devmem TCP)",
                              details: ["named trees: " + NamedTree.all.map(\.name).joined(separator: ", ")], code: .treeRefused)
        }
        // The repository by its real path: a cache reached through a symbolic link (a test's fresh cache that
        // shares the real trees) names the same tree, so it shares its worktree, build directories and ccache
        // entries instead of building from nothing under a new name.
        return KernelTree(repository: Self.realPath(repository), name: "\(name) (\(version))", baseCommit: commit, version: version)
    }

    func userTree(_ path: String) async throws -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let git = Git(directory: absolute, runner: runner)
        let top = try await git.tryRun(["rev-parse", "--show-toplevel"])
        guard top.succeeded else {
            throw NetrigError(blame: .usage, subject: "--tree \(path)",
                              message: "not a git repository", details: top.standardError.lastLines(2), code: .treeRefused)
        }
        let status = try await git.run(["status", "--porcelain", "--untracked-files=no"])
        guard status.isEmpty else {
            throw NetrigError(blame: .usage, subject: "--tree \(path)",
                              message: "the tree has uncommitted changes; commit or stash them (netrig builds commits, never your checkout)",
                              details: status.lastLines(5), code: .treeRefused)
        }
        return top.standardOutput.trimmingWhitespace
    }

    /// Extracts Debian's tarball once into the cache and commits it (with `git add -f`: its `.gitignore`
    /// ignores every top-level path). Works in a temporary directory and renames it into place, so an
    /// interrupted import leaves nothing half-made.
    /// What the cache holds of a named tree: its import's version and commit, or nil before first use.
    public func imported(_ named: NamedTree) async -> (version: String, commit: String)? {
        let git = Git(directory: directories.trees + "/" + named.directoryName, runner: runner)
        guard let head = try? await git.tryRun(["rev-parse", "--verify", "HEAD"]), head.succeeded,
              let makefile = try? await git.run(["show", "HEAD:Makefile"]) else { return nil }
        return (Self.makefileVersion(makefile), head.standardOutput.trimmingWhitespace)
    }

    /// An import is there when its repository has a commit (an interrupted one never got this far).
    func hasImport(_ repository: String) async -> Bool {
        guard FileManager.default.fileExists(atPath: repository + "/.git") else { return false }
        return (try? await Git(directory: repository, runner: runner).tryRun(["rev-parse", "--verify", "HEAD"]).succeeded) ?? false
    }

    func importDebianTree(_ named: NamedTree, progress: any ProgressObserver) async throws -> String {
        let fm = FileManager.default
        let target = directories.trees + "/" + named.directoryName
        if await hasImport(target) {
            try await canonicalize(target, named)
            return target
        }
        try fm.createDirectory(atPath: directories.trees, withIntermediateDirectories: true)
        // One import at a time: two first runs would otherwise both extract and race on the rename.
        return try await FileLock.withLock(directories.trees + "/.\(named.directoryName).lock") {
            if await hasImport(target) { return target }
            let debianTarball = try await debian.tarball(for: named, progress: progress)
            try await importTarball(debianTarball, named, into: target, progress: progress)
            debian.discardFetched(named)
            return target
        }
    }

    func importTarball(_ debianTarball: String, _ named: NamedTree, into target: String, progress: any ProgressObserver) async throws {
        let fm = FileManager.default
        let staging = directories.trees + "/.import-\(getpid())"
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: staging) }
        progress.status("importing \(debianTarball) into \(target) (once)")
        let untar = try await runner.run(HostCommand("tar", ["-xf", debianTarball, "-C", staging, "--strip-components=1"]))
        guard untar.succeeded else {
            throw NetrigError(blame: .infrastructure, subject: debianTarball,
                              message: "cannot extract", details: untar.standardError.lastLines(4))
        }
        let git = Git(directory: staging, runner: runner)
        try await git.run(["init", "--quiet"])
        try await git.run(["config", "gc.auto", "0"])
        progress.status("importing: git add -f (about a minute)")
        try await git.run(["add", "-f", "."])
        let version = (try? String(contentsOfFile: staging + "/Makefile", encoding: .utf8)).map(Self.makefileVersion) ?? "unknown"
        try await git.run(["commit", "--quiet", "-m", named.importMessage(version: version)])
        try await canonicalize(staging, named)
        try? fm.removeItem(atPath: target)
        try fm.moveItem(atPath: staging, toPath: target)
    }

    /// Makes the import's one commit the same on every machine: its tree, netrig's identity, a fixed date
    /// and message, no parent. An import made before (with the date it was made on) is rewritten in
    /// place: the same tree, so worktrees and build caches stay valid.
    func canonicalize(_ repository: String, _ named: NamedTree) async throws {
        let git = Git(directory: repository, runner: runner)
        let head = try await git.run(["rev-parse", "HEAD"])
        let tree = try await git.run(["rev-parse", "HEAD^{tree}"])
        let version = Self.makefileVersion(try await git.run(["show", "HEAD:Makefile"]))
        let canonical = try await git.run(["commit-tree", tree, "-m", named.importMessage(version: version)],
                                          environment: ["GIT_AUTHOR_DATE": Git.fixedDate])
        if canonical != head {
            try await git.run(["update-ref", "-m", "netrig: canonical import commit", "HEAD", canonical])
        }
    }

    static func makefileVersion(_ makefile: String) -> String {
        var parts: [String: String] = [:]
        for line in makefile.split(separator: "\n").prefix(10) {
            let fields = line.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace }
            if fields.count == 2 { parts[fields[0]] = fields[1] }
        }
        return [parts["VERSION"], parts["PATCHLEVEL"], parts["SUBLEVEL"]].compactMap { $0 }.joined(separator: ".")
    }

    func kernelVersion(repository: String, commit: String) async throws -> String {
        let makefile = try await Git(directory: repository, runner: runner).run(["show", "\(commit):Makefile"])
        return Self.makefileVersion(makefile)
    }

    /// The worktree netrig owns for a repository: created on first use, reset before each use.
    /// Nothing here touches a worktree that exists: another netrig process may be applying a series in it
    /// under the build lock (an `am --abort` here once cut a concurrent run's `git am` short, and its patch
    /// was reported as not applying). A `git am` a killed run left behind is aborted by whoever next checks
    /// out, under the lock (`SeriesApplier.checkout`).
    public func worktree(for tree: KernelTree) async throws -> String {
        let path = workRoot(for: tree) + "/src"
        let fm = FileManager.default
        if fm.fileExists(atPath: path + "/.git") { return path }
        try fm.createDirectory(atPath: workRoot(for: tree), withIntermediateDirectories: true)
        return try await FileLock.withLock(workRoot(for: tree) + "/build.lock") {
            if fm.fileExists(atPath: path + "/.git") { return path }
            let repo = Git(directory: tree.repository, runner: runner)
            _ = try await repo.tryRun(["worktree", "prune"])
            try await repo.run(["worktree", "add", "--detach", "--force", path, tree.baseCommit])
            return path
        }
    }

    /// `cache/work/<name>-<hash of repository path>`: the worktree and the build outputs of one tree, by
    /// real paths (a work directory reached through a symbolic link is the one it points to, so the
    /// worktree git records stays valid when the link is gone).
    public func workRoot(for tree: KernelTree) -> String {
        let base = URL(fileURLWithPath: tree.repository).lastPathComponent
        return Self.realPath(directories.work) + "/\(base)-\(SHA256.hex(tree.repository).prefix(10))"
    }

    /// `path` with its symbolic links resolved, when it exists; as it is otherwise.
    static func realPath(_ path: String) -> String {
        guard FileManager.default.fileExists(atPath: path) else { return path }
        return URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }
}
