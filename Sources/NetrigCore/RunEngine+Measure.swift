extension RunEngine {
    /// Boots both kernels: the throughput rounds, the extra runs the noise asks for, the leak check; then
    /// compares the evidence.
    func test(_ runID: RunID, plan: ResolvedPlan, workload: WorkloadDefinition,
              artifacts: [Side: KernelArtifact], evidence: EvidenceLog) async throws -> Comparison {
        let image = try await timed(.buildImage, runID, detail: "guest root filesystem") {
            try await images.prepareImage(progress: progress)
        }
        let hypervisor = try? await guests.hypervisorVersion()
        if let hypervisor { progress.note("hypervisor: \(hypervisor)") }
        let machine = try await chooseMachine(runID, plan: plan, baselineKernel: artifacts[.baseline]?.kernelImage)
        let environment = RunEnvironment(hypervisor: hypervisor, workload: workload, accelerator: await machine.description)
        try await store.recordEnvironment(runID, environment)
        let context = TestContext(plan: plan, workload: workload, image: image, machine: machine, environment: environment,
                                  runID: runID, artifacts: artifacts, evidence: evidence)
        try await measureThroughput(context)
        if plan.maxLeakRounds > 0 { try await checkLeaks(context) }
        let final = evidence.current
        for line in UncheckedCheck.summarize(final.unchecked) { progress.note(line) }
        // The stored run's comparison is this one, computed the same way from the same evidence.
        return try await timed(.compare, runID, detail: "baseline against patched") {
            Comparison(final, plan: plan.request)
        }
    }

    static let plannedSides: [(Side, Phase)] = [(.baseline, .testBaseline), (.patched, .testPatched)]

    /// The throughput boots. Sequential boots alternate baseline and patched (ABAB) so that a drift of the
    /// host hits both sides alike; each boot starts with a discarded warm-up. A metric left inconclusive
    /// by the measured noise gets the runs that would settle it, within `maxRepetitions`.
    func measureThroughput(_ context: TestContext) async throws {
        let plan = context.plan, machine = context.machine
        // In virtual time each guest's vCPU thread needs a core and its I/O thread another; on a host with
        // fewer than 4 cores two guests at once disturb each other's timing (measured here: 1 % noise
        // instead of 0.2 %), so they run one after the other.
        let parallel = await machine.clock == .virtual && concurrentMeasurements
        let repetitions = plan.request.repetitions
        let rounds = parallel || repetitions < 4 ? 1 : 2
        var done = 0
        for round in 1...rounds {
            let count = round == rounds ? repetitions - done : repetitions / rounds + repetitions % rounds
            try await measureRound(round, count: count, firstRepetition: done + 1, label: ", round \(round)/\(rounds)",
                                   parallel: parallel, context: context)
            done += count
        }
        // A single run per side measures no noise, so asks for nothing (-n 1 is a quick look on purpose).
        var round = rounds
        while round < rounds + 2, done >= 2 {
            let cap = plan.maxRepetitions
            let interim = Comparison(samples: context.evidence.current.countedSamples, leaks: [], splats: [],
                                     minimumEffect: await machine.clock.minimumEffect)
            // The most the limit allows for: a metric no number of runs within it settles does not stop another that can be.
            guard let needed = interim.undecided.compactMap(\.runsNeeded).filter({ $0 <= cap }).max(), needed > done else { break }
            round += 1
            progress.note("inconclusive after \(done) runs per side: \(needed - done) more per side (the noise asks for \(needed), limit \(cap))")
            try await measureRound(round, count: needed - done, firstRepetition: done + 1, label: ", \(needed - done) more runs",
                                   parallel: parallel, context: context)
            done = needed
        }
    }

    /// One round of throughput boots: both sides at once, or one after the other (baseline first). A side
    /// whose samples of these repetitions are stored already (a resumed run) is not booted again.
    func measureRound(_ round: Int, count: Int, firstRepetition: Int, label: String, parallel: Bool, context: TestContext) async throws {
        let repetitions = Set(firstRepetition..<(firstRepetition + count))
        var sides = Self.plannedSides
        for (side, _) in Self.plannedSides where context.evidence.current.samples(side, repetitions: repetitions) != nil {
            sides.removeAll { $0.0 == side }
            progress.note("\(side.rawValue): repetitions \(firstRepetition)–\(firstRepetition + count - 1) kept from the stored run")
            if side == .baseline { await context.machine.baselineCompleted(BootPurpose.throughput.rawValue, seconds: nil) }
        }
        let runID = context.runID, machine = context.machine
        _ = try await runSides(sides, together: parallel, purpose: .throughput, context: context) { side, phaseName in
            try await self.timed(phaseName, runID, detail: context.detail + label, note: { await machine.takeNote() }) {
                try await self.bootUnderMachine(side: side, phase: phaseName, purpose: .throughput, context: context,
                                                repetitions: count, firstRepetition: firstRepetition, round: round)
            }
        }
    }
}
