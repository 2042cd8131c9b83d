/// The kernel side of a run: find the tree, apply the series, configure and build.
public protocol KernelPipeline: Sendable {
    /// Imports or locates the tree and resolves the base commit.
    func prepareTree(request: String?, base: String?, series: Series) async throws -> KernelTree
    /// Applies the series with `git am` in netrig's worktree; throws naming the first patch that fails.
    func apply(_ series: Series, on tree: KernelTree) async throws -> AppliedSeries
    /// Reads a named config from `kconfigs/`.
    func configSpec(named name: String) throws -> KernelConfigSpec
    /// Builds (or finds in the cache) the kernel and programs for one side, proving the config held.
    func build(_ request: BuildRequest, progress: any ProgressObserver) async throws -> KernelArtifact
    /// Builds every patch of the series in order, each incremental on the one before (the last one is the
    /// patched kernel, left in the cache), and reports per patch: built or not, the first compiler error,
    /// the warnings it added. A patch that does not build does not stop the ones after it.
    /// The effective config symbols that differ between two built kernels.
    func configChanges(from baseline: KernelArtifact, to patched: KernelArtifact) throws -> [ConfigChange]
    /// The effective config of a built kernel, symbol → value ("y", "m", a number or a string).
    func configValues(of artifact: KernelArtifact) throws -> [String: String]
    /// `built` is the baseline's artifact (its build log is what the first patch's warnings are compared with).
    func buildEachPatch(_ series: Series, applied: AppliedSeries, baseline: BuildRequest, built: KernelArtifact,
                        progress: any ProgressObserver) async throws -> [PatchBuild]
}

/// The guest root filesystem.
public protocol ImageProvider: Sendable {
    /// Builds the image from its recipe unless the cache has it; returns its path.
    func prepareImage(progress: any ProgressObserver) async throws -> String
}

/// What an accelerator probe found out.
public struct AcceleratorAnswer: Sendable, Codable, Equatable {
    /// nil when the probe could not decide: only a kernel that boots (or a KVM that cannot even start)
    /// proves an answer, and firmware that runs under KVM says nothing about the kernel after it.
    public var accelerator: Accelerator?
    public var reason: String

    public init(_ accelerator: Accelerator?, _ reason: String) {
        self.accelerator = accelerator
        self.reason = reason
    }
}

/// Decides between KVM and TCG.
public protocol AcceleratorProbe: Sendable {
    /// Boots `kernel` briefly with KVM: KVM only when it gets that far, TCG when it does not; undecided
    /// without a kernel, unless KVM cannot start at all.
    func probe(kernel: String?) async -> AcceleratorAnswer
    /// A run proved the answer wrong (a KVM guest printed nothing on its console): keep `answer` instead.
    func correct(_ answer: AcceleratorAnswer) async
}

extension AcceleratorProbe {
    public func correct(_ answer: AcceleratorAnswer) async {}
}

/// Where runs are kept. SQLite serves one machine; the protocol lets PostgreSQL serve a fleet.
public protocol RunRecorder: Sendable {
    func createRun(plan: RunPlan, startedAt: String) async throws -> RunID
    /// Takes a failed or interrupted run up again (running, owned by this process), keeping what it holds.
    func resumeRun(_ run: RunID) async throws
    func recordTree(_ run: RunID, tree: KernelTree) async throws
    func recordSeries(_ run: RunID, series: Series, applied: AppliedSeries?) async throws
    /// What the measurements depend on besides the kernels: runs that differ in it are not compared.
    func recordEnvironment(_ run: RunID, _ environment: RunEnvironment) async throws
    func recordPhase(_ run: RunID, _ phase: PhaseRecord) async throws
    func recordBuild(_ run: RunID, _ artifact: KernelArtifact) async throws
    func recordPatchBuilds(_ run: RunID, _ builds: [PatchBuild]) async throws
    /// What the series changed in the effective config (baseline against patched).
    func recordConfigChanges(_ run: RunID, _ changes: [ConfigChange]) async throws
    /// Stores one guest's boot with what it measured and found; returns the boot's id, which its samples,
    /// leaks and splats carry when loaded.
    @discardableResult
    func recordBoot(_ run: RunID, _ boot: BootRecord, samples: [Sample], collected: Collected) async throws -> BootID
    func finishRun(_ run: RunID, status: RunStatus, verdict: Verdict, error: NetrigError?) async throws
    /// Starts a group of runs (a matrix, a bisection, a night).
    func createGroup(kind: RunGroup.Kind, label: String, createdAt: String) async throws -> RunGroupID
    /// Adds a run to a group, after its other members.
    func addToGroup(_ group: RunGroupID, run: RunID, label: String) async throws
}

/// Read side of the store.
public protocol RunQueries: Sendable {
    /// The newest runs' summaries, newest first: what a list or an index page needs, without any run's
    /// boots, logs or samples. A row that cannot be read is listed with what could be (never dropped).
    func listRuns(limit: Int) async throws -> [RunSummary]
    /// Everything stored about one run; nil when there is no such run. What could not be decoded is named in
    /// `StoredRun.unreadable`, never dropped silently.
    func loadRun(_ id: RunID) async throws -> StoredRun?
    func group(_ id: RunGroupID) async throws -> RunGroup?
    /// The groups a run belongs to.
    func groups(of run: RunID) async throws -> [RunGroup]
}

/// A whole store: what the commands open (`NetrigContext.openStore`).
public typealias RunStorage = RunRecorder & RunQueries

/// Progress of long steps. The engine prints nothing itself; the command line renders these.
public protocol ProgressObserver: Sendable {
    func phaseStarted(_ phase: Phase, detail: String)
    func phaseFinished(_ phase: Phase, seconds: Double, outcome: PhaseRecord.Outcome)
    /// A live status line within a phase ("CC net/core/page_pool.o (1234 objects, 05:12)").
    func status(_ line: String)
    func note(_ line: String)
}

/// A progress observer that discards everything.
public struct SilentProgress: ProgressObserver {
    public init() {}
    public func phaseStarted(_ phase: Phase, detail: String) {}
    public func phaseFinished(_ phase: Phase, seconds: Double, outcome: PhaseRecord.Outcome) {}
    public func status(_ line: String) {}
    public func note(_ line: String) {}
}

/// An accelerator probe that keeps its answer for the host (`netrig doctor` probes again and shows what is kept).
public protocol KeptAcceleratorProbe: AcceleratorProbe {
    /// Probes now and keeps the answer when it is decided.
    func refresh(kernel: String?) async -> AcceleratorAnswer
    /// The answer kept for this host boot, if there is one.
    func keptAnswer() -> AcceleratorAnswer?
}

/// What the hypervisor behind the guests is: `netrig doctor` shows it, runs record it.
public protocol HypervisorQuery: Sendable {
    /// The virtualization library's and the hypervisor's versions ("10.0.0", "QEMU 7.2.22"); throws when
    /// it cannot be reached.
    func versions() async throws -> (library: String, hypervisor: String)
}
