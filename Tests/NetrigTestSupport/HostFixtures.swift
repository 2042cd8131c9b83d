import Foundation
import GuestVM
import KernelBuild
import NetrigCore
import Workloads

/// What tests against the real host share: the repository, netrig's real cache (so kernel builds and the
/// guest image are reused across tests, runs and CI), the Debian tree, and the default kernel.
public actor HostFixtures {
    public static let shared = HostFixtures()

    public nonisolated let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    public nonisolated let directories = NetrigDirectories(environment: ProcessInfo.processInfo.environment)
    public nonisolated let libvirtURI = ProcessInfo.processInfo.environment["NETRIG_LIBVIRT_URI"] ?? "qemu:///system"

    private var trees: [String: KernelTree] = [:]
    private var kernels: [String: KernelArtifact] = [:]
    private var image: String?

    /// Tests that need libvirt, QEMU and kernel builds run unless NETRIG_SKIP_HOST_TESTS=1.
    public nonisolated static var enabled: Bool {
        ProcessInfo.processInfo.environment["NETRIG_SKIP_HOST_TESTS"] != "1"
    }

    public func defaultTree() async throws -> KernelTree { try await tree(.default) }

    /// A named tree as `--tree NAME` prepares it (imported once, fetched first when it comes from a suite).
    public func tree(_ named: NamedTree) async throws -> KernelTree {
        if let tree = trees[named.name] { return tree }
        let prepared = try await TreeWorkspace(directories: directories).prepare(request: named.name, base: nil, series: nil, progress: SilentProgress())
        trees[named.name] = prepared
        return prepared
    }

    /// The baseline kernel of the default config with the programs of every workload: from the build cache
    /// when a run or another test built it already.
    public func defaultKernel() async throws -> KernelArtifact { try await kernel(.default) }

    /// The same for a named tree.
    public func kernel(_ named: NamedTree) async throws -> KernelArtifact {
        if let kernel = kernels[named.name] { return kernel }
        let builder = KernelBuilder(directories: directories, workspace: TreeWorkspace(directories: directories))
        let artifact = try await builder.build(try await defaultBuildRequest(named), progress: SilentProgress())
        kernels[named.name] = artifact
        return artifact
    }

    /// What `kernel` builds: the default config on the base of the tree, every workload's programs.
    public func defaultBuildRequest(_ named: NamedTree = .default) async throws -> BuildRequest {
        let tree = try await tree(named)
        let spec = try ConfigCatalog(directory: repository + "/kconfigs").spec(named: "default")
        let catalog = WorkloadCatalog(directory: repository + "/workloads")
        let programs = try catalog.names().flatMap { try catalog.load($0).programs }
        return BuildRequest(side: .baseline, tree: tree, commit: tree.baseCommit, config: spec, programs: programs)
    }

    public func guestImage() async throws -> String {
        if let image { return image }
        let path = try await RecipeImageProvider(recipeDirectory: repository + "/images/debian-bookworm", directories: directories)
            .prepareImage(progress: SilentProgress())
        image = path
        return path
    }

    /// A TCG guest of the default kernel and image on the real clock.
    public func guestSpec(_ name: String, extra: [String] = [], links: [NetworkLink], end: Int = 0, viommu: Bool = false,
                          timeout: Duration = .seconds(180), tree: NamedTree = .default) async throws -> GuestSpec {
        let kernel = try await kernel(tree)
        let image = try await guestImage()
        return GuestSpec(name: name, kernelImage: kernel.kernelImage, rootImage: image, extraCommandLine: extra, memoryMiB: 1024,
                         vcpus: 2, links: links, end: end, viommu: viommu, accelerator: .tcg, clock: .real,
                         workDirectory: scratchDirectory(name), bootTimeout: timeout)
    }

    /// The environment of a netrig whose state starts empty where a newcomer's does: a cache directory of
    /// its own (no accelerator answer; no guest image unless `shareImages`) that shares only the expensive,
    /// content-addressed parts of the real cache (the imported trees, the worktree and its build
    /// directories, ccache, built kernels), and, unless `shareData`, an empty data directory (no store, no
    /// SSH key, no kept guests). Nothing kept under the real ~/.cache or ~/.local/share can make a test
    /// that uses it pass.
    public nonisolated func freshState(in scratch: String, shareImages: Bool = false, shareData: Bool = false) throws -> [String: String] {
        let fm = FileManager.default
        let cache = scratch + "/cache", data = scratch + "/data"
        try fm.createDirectory(atPath: cache, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: data, withIntermediateDirectories: true)
        for part in ["trees", "work", "ccache", "kernels"] + (shareImages ? ["images"] : []) {
            try fm.createDirectory(atPath: directories.cache + "/" + part, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: cache + "/" + part, withDestinationPath: directories.cache + "/" + part)
        }
        var environment = ["NETRIG_HOME": repository, "NETRIG_CACHE_DIR": cache]
        if !shareData { environment["NETRIG_DATA_DIR"] = data }
        return environment
    }

    public nonisolated func scratchDirectory(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-test-\(name)-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A progress observer that keeps every note and status line, for tests that assert what a user was told.
public final class RecordingProgress: ProgressObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []
    public init() {}
    public var lines: [String] { lock.withLock { recorded } }
    public func phaseStarted(_ phase: Phase, detail: String) {}
    public func phaseFinished(_ phase: Phase, seconds: Double, outcome: PhaseRecord.Outcome) {}
    public func status(_ line: String) { lock.withLock { recorded.append(line) } }
    public func note(_ line: String) { lock.withLock { recorded.append(line) } }
}
