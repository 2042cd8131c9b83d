/// Runs a plan through the ports, phase by phase: apply, build both sides, boot each, run the workload,
/// collect leaks and splats, compare. Every phase is timed and recorded as soon as it ends, so a run that
/// fails keeps everything it collected, stored with the phase that failed.
public struct RunEngine: Sendable {
    public var kernel: any KernelPipeline
    public var images: any ImageProvider
    public var accelerators: any AcceleratorProbe
    public var guests: any GuestLauncher
    public var workloads: any WorkloadExecutor
    public var collector: any GuestCollector
    public var store: any RunRecorder
    public var progress: any ProgressObserver
    /// Whether the two sides' throughput boots may run at the same time (a host with 4 or more cores).
    public var concurrentMeasurements: Bool
    /// Returns a monotonic time in seconds; injectable for tests.
    public var clock: @Sendable () -> Double
    /// Returns the wall-clock timestamp stored with the run.
    public var timestamp: @Sendable () -> String
    /// Where each boot's console log and disk overlay go.
    public var workDirectory: @Sendable (RunID, Side) -> String

    public init(kernel: any KernelPipeline, images: any ImageProvider, accelerators: any AcceleratorProbe,
                guests: any GuestLauncher, workloads: any WorkloadExecutor, collector: any GuestCollector,
                store: any RunRecorder, progress: any ProgressObserver, concurrentMeasurements: Bool = false,
                clock: @escaping @Sendable () -> Double, timestamp: @escaping @Sendable () -> String,
                workDirectory: @escaping @Sendable (RunID, Side) -> String) {
        self.kernel = kernel
        self.images = images
        self.accelerators = accelerators
        self.guests = guests
        self.workloads = workloads
        self.collector = collector
        self.store = store
        self.progress = progress
        self.concurrentMeasurements = concurrentMeasurements
        self.clock = clock
        self.timestamp = timestamp
        self.workDirectory = workDirectory
    }

    /// The result of `run`: the stored run's id, what it found, its comparison when it got that far, and
    /// its verdict.
    public struct Outcome: Sendable {
        public var run: RunID
        public var comparison: Comparison?
        public var patchBuilds: [PatchBuild]
        /// Everything the series is blamed for, and the error that stopped the run.
        public var findings: [Finding]
        public var verdict: Verdict
        public var error: NetrigError?
    }

    /// Runs `plan`. With `resuming` (a failed or interrupted run, loaded from the store), the run goes on
    /// under its own id: the builds come back from the build cache, and every boot it stored is kept
    /// instead of being booted again, so only what had not completed runs. The plan's defaults are applied
    /// here, once (`ResolvedPlan.resolve`); a plan that cannot run is stored as refused.
    public func run(plan: RunPlan, series: Series, workload: WorkloadDefinition, resuming: StoredRun? = nil) async throws -> Outcome {
        let resolved: ResolvedPlan
        do {
            resolved = try ResolvedPlan.resolve(plan, workload: workload, stored: resuming?.evidence.machine)
        } catch let error as NetrigError {
            return try await refuse(error, in: .configure, plan: plan, resuming: resuming?.summary.id)
        }
        return try await run(resolved, series: series, workload: workload, resuming: resuming)
    }

    public func run(_ plan: ResolvedPlan, series: Series, workload: WorkloadDefinition, resuming: StoredRun? = nil) async throws -> Outcome {
        let runID: RunID
        if let resuming {
            runID = resuming.summary.id
            try await store.resumeRun(runID)
        } else {
            runID = try await store.createRun(plan: plan.request, startedAt: timestamp())
        }
        let evidence = EvidenceLog(resuming?.evidence ?? RunEvidence(workload: workload.name))
        var patchBuilds: [PatchBuild] = []
        do {
            if !plan.buildOnly { try await checkGuests(plan) }
            let artifacts = try await buildKernels(runID, plan: plan, series: series, workload: workload, patchBuilds: &patchBuilds)
            let comparison = plan.buildOnly ? nil
                : try await test(runID, plan: plan, workload: workload, artifacts: artifacts, evidence: evidence)
            let findings = Finding.from(patchBuilds, plan: plan.request) + (comparison.map { Finding.from($0, plan: plan.request) } ?? [])
            // A pass decides everything it measured: a metric the noise left open makes the run inconclusive,
            // and so does a check that did not run (a pass says every promised check was made).
            let verdict = Verdict.of(findings: findings, comparison: comparison)
            try await store.finishRun(runID, status: .completed, verdict: verdict, error: nil)
            return Outcome(run: runID, comparison: comparison, patchBuilds: patchBuilds, findings: findings, verdict: verdict, error: nil)
        } catch {
            var failure = Self.netrigError(error, phase: .store)
            // Outside every timed phase only the store is written to.
            if failure.phase == nil { failure.phase = .store }
            // SIGINT or SIGTERM: whatever the interrupted step said (a killed make, a cut SSH session) is not
            // the series' fault. The run is stored as interrupted in the phase it was in.
            let interrupted = Task.isCancelled || error is CancellationError
            if interrupted {
                failure = NetrigError(phase: failure.phase, blame: .infrastructure, subject: failure.subject,
                                      message: Self.interruptedMessage, details: ["continue it with netrig run --resume \(runID)"],
                                      code: .interrupted)
            }
            let verdict = Verdict(ending: failure)
            // The store writes outside this (cancelled) task, so an interrupted run is stored too.
            try? await store.finishRun(runID, status: interrupted ? .interrupted : .failed, verdict: verdict, error: failure)
            // A last patch that does not build is already a finding of its own (any other error of the
            // per-patch builds, a dropped config symbol or a full disk, is not).
            let stopper = failure.phase == .buildPatches && failure.isCode(.buildFailed) && !interrupted ? [] : [Finding.from(failure, plan: plan.request)]
            return Outcome(run: runID, comparison: nil, patchBuilds: patchBuilds,
                           findings: Finding.from(patchBuilds, plan: plan.request) + stopper, verdict: verdict, error: failure)
        }
    }

    /// A run refused before anything ran (a plan that cannot run, a series that does not parse, an unknown
    /// workload or config): stored all the same, failed in `phase` (the step the engine would have been in:
    /// adapters name no phase), so a nightly job's history shows it. `resuming` refuses a stored run again
    /// under its own id.
    public func refuse(_ error: NetrigError, in phase: Phase, plan: RunPlan, resuming: RunID? = nil) async throws -> Outcome {
        let error = Self.stamped(error, phase)
        let runID: RunID
        if let resuming {
            runID = resuming
            try await store.resumeRun(runID)
        } else {
            runID = try await store.createRun(plan: plan, startedAt: timestamp())
        }
        try await store.recordPhase(runID, PhaseRecord(phase: phase, seconds: 0, outcome: .failed, note: error.description))
        let verdict = Verdict(ending: error)
        try await store.finishRun(runID, status: .failed, verdict: verdict, error: error)
        return Outcome(run: runID, comparison: nil, patchBuilds: [], findings: [Finding.from(error, plan: plan)], verdict: verdict, error: error)
    }

    public static let interruptedMessage = "interrupted (SIGINT or SIGTERM)"

    /// Refuses, before anything is built, a libvirt it cannot reach and a NIC this hypervisor cannot emulate.
    func checkGuests(_ plan: ResolvedPlan) async throws {
        // libvirt down is found now, not after half an hour of building.
        do {
            _ = try await guests.hypervisorVersion()
        } catch {
            throw Self.stamped(error, .configure)
        }
        let nic = plan.request.nic
        if let reason = await guests.unsupportedNICs([nic])[nic] {
            throw NetrigError(phase: .configure, blame: .infrastructure, subject: "--nic \(nic.rawValue)",
                              message: "unsupported here: \(reason)",
                              details: ["choose another NIC model, or run on a host with a newer QEMU (--libvirt-uri)"], code: .nicUnsupported)
        }
    }

    /// Runs an engine step outside `timed` that belongs to `phase`, stamping it on the error it throws.
    static func inPhase<T>(_ phase: Phase, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw stamped(error, phase) }
    }

    /// `error` as a NetrigError of `phase`, whatever phase it named before: the engine's, not an adapter's.
    static func stamped(_ error: any Error, _ phase: Phase) -> NetrigError {
        var failure = netrigError(error, phase: phase)
        failure.phase = phase
        return failure
    }

    /// Times `body`, tells the observer, and records the phase whether it succeeds or fails. The phase is
    /// stamped on every error that leaves it: adapters throw without one.
    func timed<T: Sendable>(_ phase: Phase, _ runID: RunID, detail: String,
                                    note: @Sendable () async -> String? = { nil },
                                    _ body: () async throws -> T) async throws -> T {
        progress.phaseStarted(phase, detail: detail)
        let start = clock()
        do {
            // A run cancelled between phases (Ctrl-C as a phase ended) starts no further phase.
            try Task.checkCancellation()
            let value = try await body()
            let seconds = clock() - start
            progress.phaseFinished(phase, seconds: seconds, outcome: .completed)
            try await store.recordPhase(runID, PhaseRecord(phase: phase, seconds: seconds, outcome: .completed, note: await note()))
            return value
        } catch {
            let seconds = clock() - start
            progress.phaseFinished(phase, seconds: seconds, outcome: .failed)
            let failure = Task.isCancelled || error is CancellationError
                ? NetrigError(phase: phase, blame: .infrastructure, message: Self.interruptedMessage, code: .interrupted)
                : Self.stamped(error, phase)
            try? await store.recordPhase(runID, PhaseRecord(phase: phase, seconds: seconds, outcome: .failed,
                                                             note: failure.description))
            throw failure
        }
    }
}
