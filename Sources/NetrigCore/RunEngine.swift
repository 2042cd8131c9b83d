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
    /// instead of being booted again, so only what had not completed runs.
    public func run(plan: RunPlan, series: Series, workload: WorkloadDefinition, resuming: StoredRun? = nil) async throws -> Outcome {
        let runID: RunID
        if let resuming {
            runID = resuming.summary.id
            try await store.resumeRun(runID)
        } else {
            runID = try await store.createRun(plan: plan, startedAt: timestamp())
        }
        let prior = resuming.map { PriorResults($0, guestsPerBoot: (plan.topology ?? workload.topologies.first ?? .loop).guestCount) }
        var patchBuilds: [PatchBuild] = []
        do {
            if plan.buildOnly != true { try await checkGuests(plan, workload: workload) }
            let artifacts = try await buildKernels(runID, plan: plan, series: series, workload: workload, patchBuilds: &patchBuilds)
            let comparison = plan.buildOnly == true ? nil
                : try await test(runID, plan: plan, workload: workload, artifacts: artifacts, prior: prior)
            let findings = Finding.from(patchBuilds, plan: plan) + (comparison.map { Finding.from($0, plan: plan) } ?? [])
            // A pass decides everything it measured: a metric the noise left open makes the run inconclusive.
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
            let stopper = failure.phase == .buildPatches && failure.isCode(.buildFailed) && !interrupted ? [] : [Finding.from(failure, plan: plan)]
            return Outcome(run: runID, comparison: nil, patchBuilds: patchBuilds,
                           findings: Finding.from(patchBuilds, plan: plan) + stopper, verdict: verdict, error: failure)
        }
    }

    public static let interruptedMessage = "interrupted (SIGINT or SIGTERM)"

    /// Refuses, before anything is built, a libvirt it cannot reach, a NIC the workload or the topology cannot use, a topology the
    /// workload does not declare, virtual time across two guests, and a NIC this hypervisor cannot emulate.
    func checkGuests(_ plan: RunPlan, workload: WorkloadDefinition) async throws {
        try Self.validate(plan, workload: workload)
        // libvirt down is found now, not after half an hour of building.
        do {
            _ = try await guests.hypervisorVersion()
        } catch {
            throw Self.stamped(error, .configure)
        }
        if let reason = await guests.unsupportedNICs([plan.nic])[plan.nic] {
            throw NetrigError(phase: .configure, blame: .infrastructure, subject: "--nic \(plan.nic.rawValue)",
                              message: "unsupported here: \(reason)",
                              details: ["choose another NIC model, or run on a host with a newer QEMU (--libvirt-uri)"], code: .nicUnsupported)
        }
    }

    public static func validate(_ plan: RunPlan, workload: WorkloadDefinition) throws {
        let topology = plan.topology ?? workload.topologies.first ?? .loop
        func refuse(_ subject: String, _ message: String) -> NetrigError {
            NetrigError(phase: .configure, blame: .usage, subject: subject, message: message)
        }
        guard workload.nics.contains(plan.nic) else {
            throw refuse("--nic \(plan.nic.rawValue)", "workload \(workload.name) does not run on \(plan.nic.rawValue); it supports "
                         + workload.nics.map(\.rawValue).joined(separator: ", "))
        }
        guard workload.topologies.contains(topology) else {
            throw refuse("--topology \(topology.rawValue)", "workload \(workload.name) needs the "
                         + workload.topologies.map(\.rawValue).joined(separator: " or ") + " topology")
        }
        guard plan.nic.topologies.contains(topology) else {
            throw refuse("--nic \(plan.nic.rawValue)", "\(plan.nic.rawValue) devices live inside one kernel: use the loop topology")
        }
        if topology == .pair, plan.clock == .virtual {
            throw refuse("--clock virtual", "the virtual clock needs the loop topology: two guests' instruction counters share no clock, "
                         + "and an idle guest's time jumps ahead while it waits for the other")
        }
    }

    /// Applies the series and builds the baseline, then every patch in order (the last is the patched
    /// kernel). A patch that does not build is recorded and the next one is built on top of it; only a
    /// last patch that does not build stops the run.
    private func buildKernels(_ runID: RunID, plan: RunPlan, series: Series, workload: WorkloadDefinition,
                              patchBuilds: inout [PatchBuild]) async throws -> [Side: KernelArtifact] {
        // The series first: a run whose tree or base cannot be had still says what it was given.
        try await store.recordSeries(runID, series: series, applied: nil)
        let tree = try await timed(.prepareTree, runID, detail: plan.treeRequest ?? "default tree") {
            try await kernel.prepareTree(request: plan.treeRequest, base: plan.baseRequest, series: series)
        }
        try await store.recordTree(runID, tree: tree)
        let applied = try await timed(.applySeries, runID, detail: "\(series.patches.count) patches on \(tree.baseCommit.prefix(12))") {
            try await kernel.apply(series, on: tree)
        }
        try await store.recordSeries(runID, series: series, applied: applied)
        let config = try await timed(.configure, runID, detail: plan.configName) {
            try kernel.configSpec(named: plan.configName)
        }
        var artifacts: [Side: KernelArtifact] = [:]
        let baseline = BuildRequest(side: .baseline, tree: tree, commit: applied.baseCommit, config: config, programs: workload.programs)
        let baselineArtifact = try await timed(.buildBaseline, runID, detail: "baseline at \(applied.baseCommit.prefix(12))") {
            try await kernel.build(baseline, progress: progress)
        }
        artifacts[.baseline] = baselineArtifact
        try await store.recordBuild(runID, baselineArtifact)
        if plan.buildOnly != true {
            // The workload's kconfig needs, checked on the baseline before the patches are built.
            let values = try Self.inPhase(.buildBaseline) { try kernel.configValues(of: baselineArtifact) }
            let missing = workload.requiredSymbols.filter { values[$0] == nil || values[$0] == "n" }
            if !missing.isEmpty {
                throw NetrigError(phase: .buildBaseline, blame: .usage, subject: "config \(plan.configName)",
                                  message: "workload \(workload.name) needs \(missing.joined(separator: ", ")), which this config does not enable",
                                  details: ["choose a config that does (netrig run --config default), or another workload"])
            }
        }
        patchBuilds = try await timed(.buildPatches, runID, detail: "\(applied.commits.count) patch(es), each on the one before") {
            try await self.kernel.buildEachPatch(series, applied: applied, baseline: baseline, built: baselineArtifact,
                                                 progress: self.progress)
        }
        try await store.recordPatchBuilds(runID, patchBuilds)
        for build in patchBuilds where build.isFinding {
            progress.note("patch \(build.patch)/\(series.patches.count): " + (build.succeeded
                ? "\(build.newWarnings.count) new warning(s): " + build.newWarnings.joined(separator: "; ")
                : "does not build: \(build.firstError ?? "see \(build.log ?? "the log")")"))
        }
        if let last = patchBuilds.last, !last.succeeded {
            throw NetrigError(phase: .buildPatches, blame: .series, subject: "patch \(last.patch)/\(series.patches.count) '\(last.subject)'",
                              message: "the patched kernel does not build", details: [last.firstError].compactMap { $0 },
                              patch: last.patch, code: .buildFailed, log: last.log, cached: last.cached)
        }
        let patched = BuildRequest(side: .patched, tree: tree, commit: applied.tipCommit, config: config, programs: workload.programs)
        artifacts[.patched] = try await timed(.buildPatched, runID, detail: "patched at \(applied.tipCommit.prefix(12))") {
            try await kernel.build(patched, progress: progress)
        }
        try await store.recordBuild(runID, artifacts[.patched]!)
        let changes = try Self.inPhase(.buildPatched) { try kernel.configChanges(from: artifacts[.baseline]!, to: artifacts[.patched]!) }
        try await store.recordConfigChanges(runID, changes)
        if !changes.isEmpty {
            progress.note("the series changes the effective config: "
                          + changes.map { "\($0.symbol) \($0.baseline) → \($0.patched)" }.joined(separator: ", "))
        }
        return artifacts
    }

    private func test(_ runID: RunID, plan: RunPlan, workload: WorkloadDefinition,
                      artifacts: [Side: KernelArtifact], prior: PriorResults?) async throws -> Comparison {
        let image = try await timed(.buildImage, runID, detail: "guest root filesystem") {
            try await images.prepareImage(progress: progress)
        }
        let topology = plan.topology ?? workload.topologies.first ?? .loop
        let hypervisor = try? await guests.hypervisorVersion()
        if let hypervisor { progress.note("hypervisor: \(hypervisor)") }
        let machine = try await chooseMachine(runID, plan: plan, topology: topology, baselineKernel: artifacts[.baseline]?.kernelImage, prior: prior)
        let environment = RunEnvironment(hypervisor: hypervisor, workload: workload, accelerator: await machine.description)
        try await store.recordEnvironment(runID, environment)
        let plannedSides: [(Side, Phase)] = [(.baseline, .testBaseline), (.patched, .testPatched)]
        let context = TestContext(plan: plan, workload: workload, image: image, machine: machine, environment: environment, runID: runID)
        let clock = await machine.clock
        // Throughput boots. In virtual time each guest's vCPU thread needs a core and its I/O thread
        // another; on a host with fewer than 4 cores two guests at once disturb each other's timing
        // (measured here: 1 % noise instead of 0.2 %), so they run one after the other.
        let parallel = clock == .virtual && concurrentMeasurements
        let built = artifacts
        var measured: [Side: SideResult] = [:]
        // A resumed run keeps the splats of the throughput boots it stored; their samples come back round by round.
        // So do the clock problems their guests printed (re-read from each stored boot's dmesg).
        for side in Side.allCases {
            let splats = prior?.throughputSplats[side] ?? [], problems = prior?.clockProblems[side] ?? []
            let unchecked = prior?.unchecked[side] ?? []
            if !splats.isEmpty || !problems.isEmpty || !unchecked.isEmpty {
                measured[side] = SideResult(samples: [], leaks: [], splats: splats, clockProblems: problems, unchecked: unchecked)
            }
        }
        /// One round of throughput boots: both sides at once, or one after the other (baseline first).
        func measureRound(_ round: Int, count: Int, firstRepetition: Int, label: String) async throws {
            var sides = plannedSides
            if let prior {
                let repetitions = Set(firstRepetition..<(firstRepetition + count))
                for (side, _) in plannedSides {
                    guard let kept = prior.samples(side, repetitions: repetitions) else { continue }
                    measured[side, default: SideResult(samples: [], leaks: [], splats: [])].merge(SideResult(samples: kept, leaks: [], splats: []))
                    sides.removeAll { $0.0 == side }
                    progress.note("\(side.rawValue): repetitions \(firstRepetition)–\(firstRepetition + count - 1) kept from the stored run")
                    if side == .baseline { await machine.baselineCompleted(Purpose.throughput.rawValue, seconds: nil) }
                }
            }
            let results = try await runSides(sides, together: parallel, purpose: .throughput, context: context) { side, phaseName in
                try await self.timed(phaseName, runID, detail: context.detail + label, note: { await machine.takeNote() }) {
                    try await self.bootUnderMachine(side: side, phase: phaseName, purpose: .throughput, artifact: built[side]!, context: context,
                                                    repetitions: count, firstRepetition: firstRepetition, round: round)
                }
            }
            for (side, result) in results { measured[side, default: SideResult(samples: [], leaks: [], splats: [])].merge(result) }
        }
        // Sequential boots alternate baseline and patched (ABAB) so that a drift of the host hits both sides
        // alike; each boot starts with a discarded warm-up.
        let rounds = parallel || plan.repetitions < 4 ? 1 : 2
        var done = 0
        for round in 1...rounds {
            let count = round == rounds ? plan.repetitions - done : plan.repetitions / rounds + plan.repetitions % rounds
            try await measureRound(round, count: count, firstRepetition: done + 1, label: ", round \(round)/\(rounds)")
            done += count
        }
        // Inconclusive with the measured noise: add the runs that would settle it, when within the limit.
        // A single run per side measures no noise, so asks for nothing (-n 1 is a quick look on purpose).
        var round = rounds
        while round < rounds + 2, done >= 2, let cap = plan.maxRepetitions {
            let interim = Comparison(samples: plannedSides.flatMap { measured[$0.0]?.samples ?? [] }, leaks: [], splats: [],
                                     minimumEffect: await machine.clock.minimumEffect)
            // The most the limit allows for: a metric no number of runs within it settles does not stop another that can be.
            guard let needed = interim.undecided.compactMap(\.runsNeeded).filter({ $0 <= cap }).max(), needed > done else { break }
            round += 1
            progress.note("inconclusive after \(done) runs per side: \(needed - done) more per side (the noise asks for \(needed), limit \(cap))")
            try await measureRound(round, count: needed - done, firstRepetition: done + 1, label: ", \(needed - done) more runs")
            done = needed
        }
        // Leak boots measure nothing, so both sides always run at once.
        var leakResults: [Side: SideResult] = [:]
        var leakRounds = 0
        if plan.leakCheck {
            // A leak the patched kernel shows and the baseline does not is confirmed by a second leak boot of
            // both sides before it is reported: kmemleak misses an object that a stale pointer still
            // references, and a pre-existing leak the baseline missed once would otherwise look new.
            for round in 1...2 {
                let candidates = Comparison.newLeakCandidates(plannedSides.flatMap { leakResults[$0.0]?.leaks ?? [] })
                if round == 2, candidates.isEmpty { break }
                let detail = round == 1 ? "kmemleak on, each mode once, both sides at once"
                    : "confirming \(candidates.count) new leak(s): " + candidates.map(\.fingerprint).joined(separator: ", ")
                var sides = plannedSides
                for (side, _) in plannedSides {
                    guard let kept = prior?.leakBoot(side, round: round) else { continue }
                    leakResults[side, default: SideResult(samples: [], leaks: [], splats: [])].merge(kept)
                    sides.removeAll { $0.0 == side }
                    progress.note("\(side.rawValue): leak check \(round) kept from the stored run")
                    if side == .baseline { await machine.baselineCompleted(Purpose.leaks.rawValue, seconds: nil) }
                }
                leakRounds = round
                if sides.isEmpty { continue }
                let results = try await timed(.checkLeaks, runID, detail: detail) {
                    try await self.runSides(sides, together: true, purpose: .leaks, context: context) { side, _ in
                        try await self.bootUnderMachine(side: side, phase: .checkLeaks, purpose: .leaks, artifact: built[side]!, context: context,
                                                        repetitions: 1, firstRepetition: 1, round: round)
                    }
                }
                for (side, result) in results { leakResults[side, default: SideResult(samples: [], leaks: [], splats: [])].merge(result) }
            }
        }
        let finalClock = await machine.clock
        let samples = plannedSides.flatMap { measured[$0.0]?.samples ?? [] }
        let leaks = plannedSides.flatMap { leakResults[$0.0]?.leaks ?? [] }
        let splats = plannedSides.flatMap { (measured[$0.0]?.splats ?? []) + (leakResults[$0.0]?.splats ?? []) }
        let clockProblems = plannedSides.flatMap { measured[$0.0]?.clockProblems ?? [] }
        let unchecked = plannedSides.flatMap { side in
            ((measured[side.0]?.unchecked ?? []) + (leakResults[side.0]?.unchecked ?? [])).map { (side: side.0, check: $0) }
        }
        for line in UncheckedCheck.summarize(unchecked) { progress.note(line) }
        return try await timed(.compare, runID, detail: "baseline against patched") {
            var comparison = Comparison(samples: samples, leaks: leaks, splats: splats, patchedLeakRounds: max(1, leakRounds),
                                        minimumEffect: finalClock.minimumEffect,
                                        setting: MetricComparison.Setting(nic: plan.nic, clock: finalClock, workload: workload.name,
                                                                          maxRepetitions: plan.maxRepetitions ?? plan.repetitions))
            if let reason = GuestClockHealth.distrust(clockProblems) { comparison.distrustMetrics(because: reason) }
            comparison.unchecked = UncheckedCheck.summarize(unchecked)
            return comparison
        }
    }

    /// Runs `body` for each side, one after the other (baseline first) or both at once, and decides whose
    /// fault a failure is from what the other side did (`attribute`). Both at once, a side that fails does
    /// not cancel the other: the baseline's own outcome is the evidence the blame needs.
    private func runSides(_ sides: [(Side, Phase)], together: Bool, purpose: Purpose, context: TestContext,
                          _ body: @escaping @Sendable (Side, Phase) async throws -> SideResult) async throws -> [Side: SideResult] {
        var outcomes: [Side: Result<SideResult, any Error>] = [:]
        if together {
            outcomes = await withTaskGroup(of: (Side, Result<SideResult, any Error>).self) { group in
                for (side, phase) in sides {
                    group.addTask {
                        do { return (side, .success(try await body(side, phase))) } catch { return (side, .failure(error)) }
                    }
                }
                var collected: [Side: Result<SideResult, any Error>] = [:]
                for await (side, outcome) in group { collected[side] = outcome }
                return collected
            }
        } else {
            for (side, phase) in sides {
                do { outcomes[side] = .success(try await body(side, phase)) } catch {
                    outcomes[side] = .failure(error)
                    break
                }
            }
        }
        var results: [Side: SideResult] = [:]
        var failures: [Side: any Error] = [:]
        for (side, outcome) in outcomes {
            switch outcome {
            case .success(let result):
                results[side] = result
                if side == .baseline { await context.machine.baselineCompleted(purpose.rawValue, seconds: result.bootSeconds) }
            case .failure(let error):
                failures[side] = error
            }
        }
        // Interrupted: whatever the cut-off step said is no evidence; the phase it was in is kept.
        if Task.isCancelled, let error = failures[.baseline] ?? failures[.patched] { throw error }
        if let error = failures[.baseline] {
            var failure = Self.attribute(Self.netrigError(error, phase: .testBaseline), side: .baseline, evidence: nil, plan: context.plan)
            if let other = failures[.patched] {
                failure.details.append("the patched side failed too: \(Self.netrigError(other, phase: .testPatched).message)")
            }
            throw failure
        }
        if let error = failures[.patched] {
            throw Self.attribute(Self.netrigError(error, phase: .testPatched), side: .patched,
                                 evidence: await context.machine.baselineEvidence(purpose.rawValue, link: context.link.label, workload: context.workload.name),
                                 plan: context.plan)
        }
        return results
    }

    /// A `NetrigError` as it is; any other error wrapped as an infrastructure failure of `phase`, with
    /// the error itself as its cause.
    static func netrigError(_ error: any Error, phase: Phase) -> NetrigError {
        error as? NetrigError ?? NetrigError(phase: phase, blame: .infrastructure, message: "\(error)", code: .other, cause: error)
    }

    /// Blame follows evidence. Adapters blame `series` for what the kernel under test did (it panicked,
    /// hung, failed its workload, said something in dmesg). On the baseline side that is the base tree's
    /// doing, never the series'. On the patched side it stays the series' only when the baseline, booted
    /// the same way in this run, got through the same step (`evidence` says how); without that evidence
    /// netrig cannot decide. An infrastructure failure (libvirt, disk, SSH refused) stays one, except a
    /// silent KVM console once the baseline has booted under KVM: then it is the patched kernel's.
    static func attribute(_ failure: NetrigError, side: Side, evidence: String?, plan: RunPlan) -> NetrigError {
        var failure = failure
        let kernelCaused = failure.blame == .series || failure.blame == .baseline
        switch side {
        case .baseline:
            guard kernelCaused || failure.code == .consoleSilent else { return failure }
            if failure.blame != .infrastructure { failure.blame = .baseline }
            failure.details.append("blame: the baseline (the base tree without the series) failed this way, so the series is not blamed; "
                                   + "nothing about the patched kernel was decided")
            if let extra = plan.extraCommandLine, !extra.isEmpty {
                failure.details.append("every guest boots with --append '\(extra.joined(separator: " "))': check it")
            }
        case .patched:
            guard kernelCaused || (failure.code == .consoleSilent && evidence != nil) else { return failure }
            if let evidence {
                failure.blame = .series
                failure.details.append("blame: the series, because \(evidence) and the patched kernel did not")
            } else {
                failure.blame = .infrastructure
                failure.details.append("blame: undecided, because the baseline did not get through the same step in this run")
            }
        }
        return failure
    }

    /// What a stored run already holds, by side: its throughput boots' samples and splats, and its leak
    /// boots by round. A boot is stored whole once its collectors ran, so a stored boot never runs again.
    struct PriorResults: Sendable {
        var throughputSamples: [Side: [Sample]] = [:]
        var throughputSplats: [Side: [Splat]] = [:]
        var leakRounds: [Side: Int] = [:]
        var leaks: [Side: [Leak]] = [:]
        var leakSplats: [Side: [Splat]] = [:]
        /// What its throughput boots' guests said of their clocks.
        var clockProblems: [Side: [String]] = [:]
        /// The checks its boots could not make (their workloads' and collectors').
        var unchecked: [Side: [UncheckedCheck]] = [:]
        /// The accelerator and clock its boots used: the rest of the run uses them too.
        var machine: (accelerator: Accelerator, clock: MeasurementClock)?

        init(_ run: StoredRun, guestsPerBoot: Int) {
            machine = run.boots.first.map { ($0.accelerator, $0.clock) }
            for side in Side.allCases {
                throughputSamples[side] = run.samples.filter { $0.side == side }
                leakRounds[side] = run.boots.filter { $0.side == side && $0.kmemleak && !$0.workloadFailed }.count / max(1, guestsPerBoot)
                leaks[side] = run.leaks.filter { $0.side == side }
                clockProblems[side] = GuestClockHealth.problems(ofThroughputBoots: run.boots.filter { $0.side == side })
                unchecked[side] = run.boots.filter { $0.side == side && !$0.workloadFailed }.flatMap { $0.uncheckedChecks(workload: run.plan.workload) }
                // Splats are stored per boot; which boot is not in the splat, so they count with the throughput
                // boots unless only leak boots were stored.
                let splats = run.splats.filter { $0.side == side }
                if run.boots.contains(where: { $0.side == side && !$0.kmemleak }) { throughputSplats[side] = splats } else { leakSplats[side] = splats }
            }
        }

        /// The stored samples of these repetitions, when every one of them is there.
        func samples(_ side: Side, repetitions: Set<Int>) -> [Sample]? {
            let kept = (throughputSamples[side] ?? []).filter { repetitions.contains($0.repetition) }
            return Set(kept.map(\.repetition)) == repetitions ? kept : nil
        }

        /// The stored leak boot of this round, when there is one.
        func leakBoot(_ side: Side, round: Int) -> SideResult? {
            guard (leakRounds[side] ?? 0) >= round else { return nil }
            return SideResult(samples: [], leaks: (leaks[side] ?? []).filter { $0.round == round },
                              splats: round == 1 ? leakSplats[side] ?? [] : [])
        }
    }

    private enum Purpose: String {
        /// kmemleak off (it slows every allocation), all repetitions, samples kept.
        case throughput
        /// kmemleak on, each mode once to exercise the code, samples discarded, leaks scanned.
        case leaks
    }

    private struct TestContext: Sendable {
        var plan: RunPlan
        var workload: WorkloadDefinition
        var image: String
        var machine: MachineChoice
        var environment: RunEnvironment
        var runID: RunID
        var link: NetworkLink { NetworkLink(model: plan.nic, topology: plan.topology ?? workload.topologies.first ?? .loop) }
        var detail: String { "\(workload.name) on \(link.label), \(plan.repetitions)x" }
    }

    struct SideResult: Sendable {
        var samples: [Sample]
        var leaks: [Leak]
        var splats: [Splat]
        /// How long its (first) guest took to answer SSH, when it booted one.
        var bootSeconds: Double?
        /// What its throughput boots' kernels said about their own clocks (`GuestClockHealth`), per boot.
        var clockProblems: [String] = []
        /// The checks its boots could not make.
        var unchecked: [UncheckedCheck] = []

        init(samples: [Sample], leaks: [Leak], splats: [Splat], bootSeconds: Double? = nil, clockProblems: [String] = [],
             unchecked: [UncheckedCheck] = []) {
            self.unchecked = unchecked
            self.samples = samples
            self.leaks = leaks
            self.splats = splats
            self.bootSeconds = bootSeconds
            self.clockProblems = clockProblems
        }

        mutating func merge(_ other: SideResult) {
            samples += other.samples
            leaks += other.leaks
            splats += other.splats
            bootSeconds = bootSeconds ?? other.bootSeconds
            clockProblems += other.clockProblems
            unchecked += other.unchecked
        }
    }

    /// How long a KVM guest may print nothing before the run falls back to TCG: the probe waits 6 s for
    /// "Linux version" with earlyprintk; a run's guests log from the console driver on and at loglevel 5,
    /// so their first line comes later (init at about 1 s under KVM).
    public static let silentConsoleTimeout: Duration = .seconds(12)

    /// Picks the accelerator and clock every boot of the run uses. A stored run's boots fix them for the
    /// rest of it when resumed; `--accel` fixes the accelerator; `--clock virtual` needs TCG, so it is not
    /// probed; otherwise the probe boots the baseline kernel under KVM. An undecided probe is TCG.
    private func chooseMachine(_ runID: RunID, plan: RunPlan, topology: Topology, baselineKernel: String?,
                               prior: PriorResults?) async throws -> MachineChoice {
        let defaultClock = { (accelerator: Accelerator) -> MeasurementClock in
            plan.clock ?? (accelerator == .tcg && topology == .loop ? .virtual : .real)
        }
        let fallbackClock = defaultClock(.tcg)
        if let stored = prior?.machine {
            progress.note("accelerator: \(stored.accelerator.rawValue.uppercased()), \(stored.clock.rawValue) clock, as the stored run's boots")
            return MachineChoice(accelerator: stored.accelerator, clock: stored.clock, reason: "as the boots stored before the run was resumed",
                                 mayFallBack: false, fallbackClock: fallbackClock)
        }
        if let forced = plan.accelerator {
            let clock = defaultClock(forced)
            if clock == .virtual, forced == .kvm {
                throw NetrigError(phase: .probeAccel, blame: .usage, message: "the virtual clock needs TCG; KVM has no instruction counting",
                                  details: ["use --clock real, or --accel tcg"])
            }
            return MachineChoice(accelerator: forced, clock: clock, reason: "--accel \(forced.rawValue)", mayFallBack: false,
                                 fallbackClock: fallbackClock)
        }
        if plan.clock == .virtual {
            progress.note("accelerator: TCG (the virtual clock counts instructions, which only TCG does)")
            return MachineChoice(accelerator: .tcg, clock: .virtual, reason: "--clock virtual needs TCG", mayFallBack: false,
                                 fallbackClock: .virtual)
        }
        let answer = try await timed(.probeAccel, runID, detail: "KVM or TCG") { await accelerators.probe(kernel: baselineKernel) }
        let accelerator = answer.accelerator ?? .tcg
        let reason = answer.accelerator == nil ? "undecided, so TCG: \(answer.reason)" : answer.reason
        progress.note("accelerator: \(accelerator.rawValue.uppercased()) (\(reason))")
        return MachineChoice(accelerator: accelerator, clock: defaultClock(accelerator), reason: reason,
                             mayFallBack: accelerator == .kvm, fallbackClock: fallbackClock)
    }

    /// Boots under the run's accelerator. A KVM guest whose console stays silent, before any guest of the
    /// run has booted under KVM, turns the whole run to TCG (the host's answer is corrected, the fallback
    /// recorded) and boots again; a fallback can only happen before anything was measured, so both sides
    /// always share one accelerator and clock.
    private func bootUnderMachine(side: Side, phase: Phase, purpose: Purpose, artifact: KernelArtifact, context: TestContext,
                                  repetitions: Int, firstRepetition: Int, round: Int) async throws -> SideResult {
        while true {
            let (accelerator, clock) = await context.machine.current
            do {
                return try await boot(side: side, phase: phase, purpose: purpose, artifact: artifact, context: context,
                                      accelerator: accelerator, clock: clock, repetitions: repetitions,
                                      firstRepetition: firstRepetition, round: round)
            } catch let error as NetrigError where error.code.isKVMFailure {
                let (reason, correction) = MachineChoice.kvmFailure(error, of: "run \(context.runID) (\(side.rawValue))",
                                                                    silentFor: Self.silentConsoleTimeout)
                switch await context.machine.fallBack(from: accelerator, reason: reason) {
                case .refused:
                    throw error
                case .again:
                    continue
                case .switched(let clock):
                    progress.note("accelerator: \(reason): every boot of this run goes to TCG, \(clock.rawValue) clock (the host's answer is corrected)")
                    await accelerators.correct(correction)
                    var environment = context.environment
                    environment.accelerator = "TCG: fell back after \(reason)"
                    environment.acceleratorFallback = reason + "; the probe had said KVM (\(await context.machine.reason))"
                    try? await store.recordEnvironment(context.runID, environment)
                }
            }
        }
    }

    private func boot(side: Side, phase: Phase, purpose: Purpose, artifact: KernelArtifact, context: TestContext,
                      accelerator: Accelerator, clock: MeasurementClock,
                      repetitions: Int, firstRepetition: Int, round: Int) async throws -> SideResult {
        let plan = context.plan, workload = context.workload
        let kmemleak = purpose == .leaks
        let keepSamples = purpose == .throughput
        let link = context.link
        let specs = (0..<link.topology.guestCount).map { end in
            let suffix = end == 0 ? "" : "-peer"
            return GuestSpec(name: "\(side.rawValue)-\(purpose.rawValue)\(suffix)", kernelImage: artifact.kernelImage,
                             rootImage: context.image,
                             extraCommandLine: (kmemleak ? ["kmemleak=on"] : []) + (plan.extraCommandLine ?? []),
                             memoryMiB: plan.memoryMiB, vcpus: plan.vcpus(throughput: purpose == .throughput, clock: clock), links: [link], end: end, viommu: plan.viommu ?? false,
                             accelerator: accelerator, clock: clock,
                             workDirectory: workDirectory(context.runID, side) + "/\(purpose.rawValue)-\(round)\(suffix)",
                             bootTimeout: plan.bootTimeout,
                             blameForKernel: .series, silentConsoleTimeout: accelerator == .kvm ? Self.silentConsoleTimeout : nil)
        }
        return try await guests.withGuests(specs) { sessions in
            await context.machine.booted()
            var remotePrograms: [String: String] = [:]
            for guest in sessions {
                for (name, hostPath) in artifact.programs.sorted(by: { $0.key < $1.key }) {
                    let remote = "/root/netrig/\(name)"
                    try await guest.upload(hostPath, to: remote, mode: 0o755)
                    remotePrograms[name] = remote
                }
                // The workload's scripts go up beside the programs.
                for (name, text) in (workload.scripts ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let remote = "/root/netrig/\(name)"
                    try await guest.write(text, to: remote, mode: 0o755)
                    remotePrograms[name] = remote
                }
                try await collector.prepare(on: guest, kmemleak: kmemleak)
            }
            progress.status("\(specs[0].name): booted in \(Int(sessions[0].bootSeconds)) s, running \(workload.name)")
            let outcome: WorkloadOutcome
            do {
                outcome = try await workloads.run(workload, side: side, link: link, programs: remotePrograms,
                                                  repetitions: repetitions, firstRepetition: firstRepetition,
                                                  warmup: purpose == .throughput, on: sessions)
            } catch let error where !(Task.isCancelled || error is CancellationError) {
                throw await salvage(error, side: side, phase: phase, kmemleak: kmemleak, sessions: sessions, specs: specs, context: context)
            }
            var unsupported: String?
            if case .unsupported(let reason) = outcome.status { unsupported = reason }
            var result = SideResult(samples: [], leaks: [], splats: [], bootSeconds: sessions.first?.bootSeconds)
            // One boot record per guest; the samples belong to the first (the client's end).
            for (index, guest) in sessions.enumerated() {
                var collected = try await collector.collect(on: guest, side: side, kmemleak: kmemleak)
                // The build knows better why a check cannot run (what the tree lacks, and where it looked)
                // than the guest ("no ynl in the guest"): its reason replaces the guest's for that check.
                let known = artifact.unchecked ?? []
                collected.unchecked = known + collected.unchecked.filter { gap in !known.contains { $0.check == gap.check } }
                for leak in collected.leaks.indices { collected.leaks[leak].round = round }
                let samples = keepSamples && index == 0 ? outcome.samples : []
                let boot = BootRecord(side: side, nic: plan.nic, accelerator: specs[index].accelerator, clock: specs[index].clock,
                                      kmemleak: kmemleak, bootSeconds: guest.bootSeconds, consoleLog: guest.consoleLog,
                                      dmesg: collected.dmesg, workloadTranscript: index == 0 ? outcome.transcript : "",
                                      unsupportedReason: unsupported, kmemleakReport: collected.kmemleakReport,
                                      unchecked: collected.unchecked)
                try await store.recordBoot(context.runID, boot, samples: samples, collected: collected)
                let clockProblems = purpose == .throughput ? GuestClockHealth.problems(inKernelLog: collected.dmesg)
                    .map { "\(side.rawValue) boot \(specs[index].name), round \(round): \($0)" } : []
                for problem in clockProblems { progress.note("guest clock: " + problem) }
                result.merge(SideResult(samples: samples, leaks: collected.leaks, splats: collected.splats, clockProblems: clockProblems,
                                        unchecked: boot.uncheckedChecks(workload: workload.name)))
            }
            return result
        }
    }

    /// A workload failed in a boot: the boot is stored with what its kernel said (console and dmesg
    /// splats: an oops, the OOM killer, a panic), and the error names it, so nothing the guest could still
    /// tell is lost.
    private func salvage(_ error: any Error, side: Side, phase: Phase, kmemleak: Bool, sessions: [any GuestSession],
                         specs: [GuestSpec], context: TestContext) async -> NetrigError {
        var failure = Self.netrigError(error, phase: phase)
        for (index, guest) in sessions.enumerated() {
            let collected = await collector.salvage(on: guest, side: side)
            let boot = BootRecord(side: side, nic: context.plan.nic, accelerator: specs[index].accelerator, clock: specs[index].clock,
                                  kmemleak: kmemleak, bootSeconds: guest.bootSeconds, consoleLog: guest.consoleLog,
                                  dmesg: collected.dmesg, workloadTranscript: index == 0 ? BootRecord.workloadFailedPrefix + "\(failure)" : BootRecord.workloadFailedPrefix,
                                  unsupportedReason: nil, kmemleakReport: nil)
            try? await store.recordBoot(context.runID, boot, samples: [], collected: collected)
            if !collected.splats.isEmpty {
                failure.details.append("the kernel of guest \(guest.name) said: " + collected.splats.map(\.title).joined(separator: "; "))
                // The kernel under test complained: `attribute` decides by side and evidence whose doing that is.
                failure.blame = .series
            }
        }
        return failure
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
    private func timed<T: Sendable>(_ phase: Phase, _ runID: RunID, detail: String,
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
