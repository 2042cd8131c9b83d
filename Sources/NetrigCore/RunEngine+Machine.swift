extension RunEngine {
    /// How long a KVM guest may print nothing before the run falls back to TCG: the probe waits 6 s for
    /// "Linux version" with earlyprintk; a run's guests log from the console driver on and at loglevel 5,
    /// so their first line comes later (init at about 1 s under KVM).
    public static let silentConsoleTimeout: Duration = .seconds(12)

    /// The accelerator and clock every boot of the run uses, as the plan's machine policy says: fixed, or
    /// probed with the baseline kernel under KVM (timed as its own phase).
    func chooseMachine(_ runID: RunID, plan: ResolvedPlan, baselineKernel: String?) async throws -> MachineChoice {
        let choice: MachineChoice
        switch plan.machine {
        case .fixed:
            choice = await MachineChoice.choose(plan.machine, fallbackClock: plan.fallbackClock) { AcceleratorAnswer(nil, "") }
        case .probe:
            let answer = try await timed(.probeAccel, runID, detail: "KVM or TCG") { await accelerators.probe(kernel: baselineKernel) }
            choice = await MachineChoice.choose(plan.machine, fallbackClock: plan.fallbackClock) { answer }
        }
        let (accelerator, clock) = await choice.current
        progress.note("accelerator: \(accelerator.rawValue.uppercased()), \(clock.rawValue) clock (\(choice.reason))")
        return choice
    }

    /// Boots under the run's accelerator. A KVM guest whose console stays silent, before any guest of the
    /// run has booted under KVM, turns the whole run to TCG (the host's answer is corrected, the fallback
    /// recorded) and boots again; a fallback can only happen before anything was measured, so both sides
    /// always share one accelerator and clock.
    func bootUnderMachine(side: Side, phase: Phase, purpose: BootPurpose, context: TestContext,
                          repetitions: Int, firstRepetition: Int, round: Int) async throws -> BootResult {
        while true {
            let (accelerator, clock) = await context.machine.current
            do {
                return try await boot(side: side, phase: phase, purpose: purpose, context: context,
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
}
