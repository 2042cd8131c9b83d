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
    /// Returns a monotonic time in seconds; injectable for tests.
    public var clock: @Sendable () -> Double
    /// Returns the wall-clock timestamp stored with the run.
    public var timestamp: @Sendable () -> String
    /// Where each boot's console log and disk overlay go.
    public var workDirectory: @Sendable (RunID, Side) -> String

    public init(kernel: any KernelPipeline, images: any ImageProvider, accelerators: any AcceleratorProbe,
                guests: any GuestLauncher, workloads: any WorkloadExecutor, collector: any GuestCollector,
                store: any RunRecorder, progress: any ProgressObserver,
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
        self.clock = clock
        self.timestamp = timestamp
        self.workDirectory = workDirectory
    }

    /// The result of `run`: the stored run's id, its comparison when it got that far, and its verdict.
    public struct Outcome: Sendable {
        public var run: RunID
        public var comparison: Comparison?
        public var verdict: Verdict
        public var error: NetrigError?
    }

    public func run(plan: RunPlan, series: Series, workload: WorkloadDefinition) async throws -> Outcome {
        let runID = try await store.createRun(plan: plan, startedAt: timestamp())
        var state = State()
        do {
            let comparison = try await execute(runID, plan: plan, series: series, workload: workload, state: &state)
            let verdict: Verdict = comparison.seriesBrokeSomething ? .fail : .pass
            try await store.finishRun(runID, status: .completed, verdict: verdict, error: nil)
            return Outcome(run: runID, comparison: comparison, verdict: verdict, error: nil)
        } catch {
            let failure = error as? NetrigError
                ?? NetrigError(phase: state.current ?? .prepareTree, blame: .infrastructure, message: "\(error)")
            let verdict: Verdict = failure.blame == .infrastructure ? .error : .fail
            // Cancellation must not stop the run from being stored as failed.
            try? await store.finishRun(runID, status: .failed, verdict: verdict, error: failure)
            return Outcome(run: runID, comparison: nil, verdict: verdict, error: failure)
        }
    }

    struct State {
        var current: Phase?
    }

    private func execute(_ runID: RunID, plan: RunPlan, series: Series, workload: WorkloadDefinition,
                         state: inout State) async throws -> Comparison {
        let tree = try await phase(.prepareTree, runID, &state, detail: plan.treeRequest ?? "default tree") {
            try await kernel.prepareTree(request: plan.treeRequest, base: plan.baseRequest, series: series)
        }
        try await store.recordTree(runID, tree: tree)
        try await store.recordSeries(runID, series: series, applied: nil)
        let applied = try await phase(.applySeries, runID, &state, detail: "\(series.patches.count) patches on \(tree.baseCommit.prefix(12))") {
            try await kernel.apply(series, on: tree)
        }
        try await store.recordSeries(runID, series: series, applied: applied)
        let config = try await phase(.configure, runID, &state, detail: plan.configName) {
            try kernel.configSpec(named: plan.configName)
        }
        var artifacts: [Side: KernelArtifact] = [:]
        for (side, commit, phaseName) in [(Side.baseline, applied.baseCommit, Phase.buildBaseline),
                                          (Side.patched, applied.tipCommit, Phase.buildPatched)] {
            let request = BuildRequest(side: side, tree: tree, commit: commit, config: config, programs: workload.programs)
            let artifact = try await phase(phaseName, runID, &state, detail: "\(side.rawValue) at \(commit.prefix(12))") {
                try await kernel.build(request, progress: progress)
            }
            try await store.recordBuild(runID, artifact)
            artifacts[side] = artifact
        }
        let image = try await phase(.buildImage, runID, &state, detail: "guest root filesystem") {
            try await images.prepareImage(progress: progress)
        }
        let accelerator: Accelerator
        if let forced = plan.accelerator {
            accelerator = forced
        } else {
            let kernelImage = artifacts[.baseline]?.kernelImage
            let probed = try await phase(.probeAccel, runID, &state, detail: "KVM or TCG") { await accelerators.probe(kernel: kernelImage) }
            progress.note("accelerator: \(probed.accelerator.rawValue.uppercased()) (\(probed.reason))")
            accelerator = probed.accelerator
        }
        let clock: MeasurementClock = plan.clock ?? (accelerator == .tcg ? .virtual : .real)
        if clock == .virtual, accelerator == .kvm {
            throw NetrigError(phase: .probeAccel, blame: .usage, message: "the virtual clock needs TCG; KVM has no instruction counting",
                              details: ["use --clock real, or --accel tcg"])
        }

        var samples: [Sample] = []
        var leaks: [Leak] = []
        var splats: [Splat] = []
        for (side, phaseName) in [(Side.baseline, Phase.testBaseline), (Side.patched, Phase.testPatched)] {
            let artifact = artifacts[side]!
            var commandLine: [String] = []
            if plan.leakCheck { commandLine.append("kmemleak=on") }
            let spec = GuestSpec(name: side.rawValue, kernelImage: artifact.kernelImage, rootImage: image,
                                 extraCommandLine: commandLine, memoryMiB: plan.memoryMiB, vcpus: plan.vcpus,
                                 testNICs: [plan.nic, plan.nic], accelerator: accelerator, clock: clock,
                                 workDirectory: workDirectory(runID, side), phase: phaseName,
                                 blameForKernel: side == .patched ? .series : .usage)
            let result = try await phase(phaseName, runID, &state, detail: "\(workload.name) on \(plan.nic.rawValue), \(plan.repetitions)x") {
                try await testSide(spec: spec, side: side, plan: plan, workload: workload, artifact: artifact, runID: runID)
            }
            samples += result.samples
            leaks += result.collected.leaks
            splats += result.collected.splats
        }
        return try await phase(.compare, runID, &state, detail: "baseline against patched") {
            Comparison(samples: samples, leaks: leaks, splats: splats)
        }
    }

    private struct SideResult: Sendable {
        var samples: [Sample]
        var collected: Collected
    }

    private func testSide(spec: GuestSpec, side: Side, plan: RunPlan, workload: WorkloadDefinition,
                          artifact: KernelArtifact, runID: RunID) async throws -> SideResult {
        try await guests.withGuest(spec) { guest in
            var remotePrograms: [String: String] = [:]
            for (name, hostPath) in artifact.programs.sorted(by: { $0.key < $1.key }) {
                let remote = "/root/netrig/\(name)"
                try await guest.upload(hostPath, to: remote, mode: 0o755)
                remotePrograms[name] = remote
            }
            try await collector.prepare(on: guest, kmemleak: plan.leakCheck)
            progress.status("\(side.rawValue): booted in \(Int(guest.bootSeconds)) s, running \(workload.name)")
            let outcome = try await workloads.run(workload, side: side, nic: plan.nic, programs: remotePrograms,
                                                  repetitions: plan.repetitions, on: guest)
            let collected = try await collector.collect(on: guest, side: side, kmemleak: plan.leakCheck)
            var unsupported: String?
            if case .unsupported(let reason) = outcome.status { unsupported = reason }
            let boot = BootRecord(side: side, nic: plan.nic, accelerator: spec.accelerator, clock: spec.clock,
                                  kmemleak: plan.leakCheck, bootSeconds: guest.bootSeconds, consoleLog: guest.consoleLog,
                                  dmesg: collected.dmesg, workloadTranscript: outcome.transcript,
                                  unsupportedReason: unsupported)
            try await store.recordBoot(runID, boot, samples: outcome.samples, collected: collected)
            return SideResult(samples: outcome.samples, collected: collected)
        }
    }

    /// Times `body`, tells the observer, and records the phase whether it succeeds or fails.
    private func phase<T: Sendable>(_ phase: Phase, _ runID: RunID, _ state: inout State, detail: String,
                                    _ body: () async throws -> T) async throws -> T {
        state.current = phase
        progress.phaseStarted(phase, detail: detail)
        let start = clock()
        do {
            let value = try await body()
            let seconds = clock() - start
            progress.phaseFinished(phase, seconds: seconds, outcome: .completed)
            try await store.recordPhase(runID, PhaseRecord(phase: phase, seconds: seconds, outcome: .completed))
            return value
        } catch {
            let seconds = clock() - start
            progress.phaseFinished(phase, seconds: seconds, outcome: .failed)
            let failure = error as? NetrigError
                ?? NetrigError(phase: phase, blame: .infrastructure,
                               message: error is CancellationError ? "interrupted" : "\(error)")
            try? await store.recordPhase(runID, PhaseRecord(phase: phase, seconds: seconds, outcome: .failed,
                                                             note: failure.description))
            throw failure
        }
    }
}
