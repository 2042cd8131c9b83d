import Foundation
import HostCommands
import NetrigCore

/// Finds the source tarball of a named Debian tree: the installed package's, or one apt downloads from
/// another suite into netrig's cache. The system's apt is never changed: the download uses a private
/// configuration (`APT_CONFIG`) whose sources, lists and caches all live under `cache/debian/SUITE`, so
/// the system's `sources.list`, `apt.conf.d` hooks and package state are neither read nor written
/// (mixing suites in the system's sources breaks a Debian machine).
public struct DebianSource: Sendable {
    public var directories: NetrigDirectories
    /// The archive the suites come from.
    public var mirror: String
    var runner: any CommandRunner

    public init(directories: NetrigDirectories, mirror: String = "http://deb.debian.org/debian",
                runner: any CommandRunner = HostCommandRunner()) {
        self.directories = directories
        self.mirror = mirror
        self.runner = runner
    }

    /// The private apt directory of a suite.
    public func aptDirectory(suite: String) -> String { directories.cache + "/debian/" + suite }

    /// The tarball for `tree`, fetching it when it comes from a suite and is not here yet. A fetched
    /// tarball is only needed until the import is done; `discardFetched` removes it.
    public func tarball(for tree: NamedTree, progress: any ProgressObserver) async throws -> String {
        switch tree.origin {
        case .installed:
            guard FileManager.default.fileExists(atPath: tree.tarball) else {
                throw NetrigError(blame: .infrastructure, subject: tree.tarball,
                                  message: "Debian's kernel source is not installed", details: ["fix: apt-get install \(tree.package)"])
            }
            return tree.tarball
        case .suite(let suite):
            return try await fetch(tree, suite: suite, progress: progress)
        }
    }

    /// Removes what `tarball(for:)` downloaded (the package and its tarball), keeping the apt lists.
    public func discardFetched(_ tree: NamedTree) {
        guard case .suite(let suite) = tree.origin else { return }
        try? FileManager.default.removeItem(atPath: aptDirectory(suite: suite) + "/packages")
    }

    func fetch(_ tree: NamedTree, suite: String, progress: any ProgressObserver) async throws -> String {
        let fm = FileManager.default
        let root = aptDirectory(suite: suite)
        let packages = root + "/packages"
        let extracted = packages + tree.tarball
        if fm.fileExists(atPath: extracted) { return extracted }
        for directory in ["empty", "lists/partial", "cache/archives/partial", "packages"] {
            try fm.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try "deb \(mirror) \(suite) main\n".write(toFile: root + "/sources.list", atomically: true, encoding: .utf8)
        try aptConfiguration(root: root, checkValidUntil: await systemChecksValidUntil())
            .write(toFile: root + "/apt.conf", atomically: true, encoding: .utf8)
        let environment = ["APT_CONFIG": root + "/apt.conf"]
        progress.status("\(tree.name): apt-get update of Debian \(suite) (private state in \(root))")
        let update = try await runner.run(HostCommand("apt-get", ["-q", "update"], environment: environment), timeout: .seconds(600))
        guard update.succeeded, !update.standardOutput.contains("Err:") else {
            throw NetrigError(blame: .infrastructure, subject: "\(tree.name): apt-get update (\(suite))",
                              message: "cannot read Debian's \(suite) suite from \(mirror)",
                              details: (update.standardError + update.standardOutput).lastLines(4) + ["apt configuration: \(root)/apt.conf"])
        }
        progress.status("\(tree.name): apt-get download \(tree.package) (about 160 MiB)")
        let download = try await runner.run(HostCommand("apt-get", ["-q", "download", tree.package], environment: environment,
                                                        workingDirectory: packages), timeout: .seconds(3600))
        let debs = ((try? fm.contentsOfDirectory(atPath: packages)) ?? []).filter { $0.hasPrefix(tree.package + "_") && $0.hasSuffix(".deb") }
        guard download.succeeded, let deb = debs.sorted().last else {
            throw NetrigError(blame: .infrastructure, subject: "\(tree.name): apt-get download \(tree.package)",
                              message: "Debian's \(suite) suite did not give the package",
                              details: download.standardError.lastLines(4) + ["apt configuration: \(root)/apt.conf"])
        }
        progress.status("\(tree.name): unpacking \(deb)")
        // dpkg-deb extracts without installing (no maintainer scripts, no dpkg database).
        let unpack = try await runner.run(HostCommand("dpkg-deb", ["-x", packages + "/" + deb, packages]), timeout: .seconds(600))
        try? fm.removeItem(atPath: packages + "/" + deb)
        guard unpack.succeeded, fm.fileExists(atPath: extracted) else {
            throw NetrigError(blame: .infrastructure, subject: "\(tree.name): \(deb)",
                              message: "the package does not hold \(tree.tarball)", details: unpack.standardError.lastLines(4))
        }
        return extracted
    }

    /// The private configuration: every path apt reads or writes points under `root`. `Dir::Etc::parts`
    /// keeps the system's `apt.conf.d` (and its update hooks) out.
    func aptConfiguration(root: String, checkValidUntil: Bool) -> String {
        """
        Dir::Etc::parts "\(root)/empty";
        Dir::Etc::preferences "\(root)/none";
        Dir::Etc::preferencesparts "\(root)/empty";
        Dir::Etc::sourcelist "\(root)/sources.list";
        Dir::Etc::sourceparts "-";
        Dir::State::Lists "\(root)/lists";
        Dir::Cache "\(root)/cache";
        Dir::Cache::archives "\(root)/cache/archives";
        Dir::Cache::pkgcache "";
        Dir::Cache::srcpkgcache "";
        APT::Get::List-Cleanup "0";
        Acquire::Languages "none";
        Acquire::Check-Valid-Until "\(checkValidUntil ? "true" : "false")";

        """
    }

    /// The system's choice for expired Release files (a mirror snapshot serves one): kept, not overridden.
    func systemChecksValidUntil() async -> Bool {
        guard let result = try? await runner.run(HostCommand("apt-config", ["dump", "Acquire::Check-Valid-Until"])) else { return true }
        return !result.standardOutput.lowercased().contains("\"false\"")
    }
}
