import Synchronization

/// The evidence of a run as its boots add to it (both sides may boot at once). A resumed run starts from
/// the stored evidence, so a boot it kept is never booted again.
final class EvidenceLog: Sendable {
    private let evidence: Mutex<RunEvidence>
    init(_ initial: RunEvidence) { evidence = Mutex(initial) }
    var current: RunEvidence { evidence.withLock { $0 } }
    func add(_ boot: BootRecord, samples: [Sample], collected: Collected) {
        evidence.withLock { $0.add(boot, samples: samples, collected: collected) }
    }
}

extension RunEngine {
    /// What one run's boots share.
    struct TestContext: Sendable {
        var plan: ResolvedPlan
        var workload: WorkloadDefinition
        var image: String
        var machine: MachineChoice
        var environment: RunEnvironment
        var runID: RunID
        var artifacts: [Side: KernelArtifact]
        var evidence: EvidenceLog
        var link: NetworkLink { plan.link }
        var detail: String { "\(workload.name) on \(link.label), \(plan.request.repetitions)x" }
    }

    /// What a side's boot tells the rest of the run besides its evidence.
    struct BootResult: Sendable {
        /// How long its (first) guest took to answer SSH.
        var bootSeconds: Double?
    }

    /// One boot of one side's kernel: its guests (two in the pair topology), the programs and scripts
    /// uploaded, the workload, the collectors; every guest stored as a boot, with what it measured and found.
    func boot(side: Side, phase: Phase, purpose: BootPurpose, context: TestContext, accelerator: Accelerator, clock: MeasurementClock,
              repetitions: Int, firstRepetition: Int, round: Int) async throws -> BootResult {
        let plan = context.plan, workload = context.workload
        let artifact = context.artifacts[side]!
        let kmemleak = purpose == .leaks
        let link = context.link
        let specs = (0..<link.topology.guestCount).map { end in
            let suffix = end == 0 ? "" : "-peer"
            return GuestSpec(name: "\(side.rawValue)-\(purpose.rawValue)\(suffix)", kernelImage: artifact.kernelImage,
                             rootImage: context.image,
                             extraCommandLine: (kmemleak ? ["kmemleak=on"] : []) + plan.extraCommandLine,
                             memoryMiB: plan.request.memoryMiB, vcpus: plan.request.vcpus(throughput: purpose == .throughput, clock: clock),
                             links: [link], end: end, viommu: plan.viommu,
                             accelerator: accelerator, clock: clock,
                             workDirectory: workDirectory(context.runID, side) + "/\(purpose.rawValue)-\(round)\(suffix)",
                             bootTimeout: plan.request.bootTimeout,
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
                throw await salvage(error, side: side, phase: phase, purpose: purpose, round: round, sessions: sessions, specs: specs,
                                    context: context)
            }
            var unsupported: String?
            if case .unsupported(let reason) = outcome.status { unsupported = reason }
            // One boot record per guest; the samples belong to the first (the client's end).
            for (index, guest) in sessions.enumerated() {
                var collected = try await collector.collect(on: guest, side: side, kmemleak: kmemleak)
                // The build knows better why a check cannot run (what the tree lacks, and where it looked)
                // than the guest ("no ynl in the guest"): its reason replaces the guest's for that check.
                let known = artifact.unchecked ?? []
                collected.unchecked = known + collected.unchecked.filter { gap in !known.contains { $0.check == gap.check } }
                for leak in collected.leaks.indices { collected.leaks[leak].round = round }
                let samples = purpose == .throughput && index == 0 ? outcome.samples : []
                var boot = BootRecord(side: side, nic: plan.request.nic, accelerator: specs[index].accelerator, clock: specs[index].clock,
                                      kmemleak: kmemleak, bootSeconds: guest.bootSeconds, consoleLog: guest.consoleLog,
                                      dmesg: collected.dmesg, workloadTranscript: index == 0 ? outcome.transcript : "",
                                      unsupportedReason: unsupported, kmemleakReport: collected.kmemleakReport,
                                      unchecked: collected.unchecked, round: round, guest: index)
                boot.id = try await store.recordBoot(context.runID, boot, samples: samples, collected: collected)
                context.evidence.add(boot, samples: samples, collected: collected)
                if purpose == .throughput {
                    for problem in GuestClockHealth.problems(inKernelLog: collected.dmesg) { progress.note("guest clock: \(boot.label): \(problem)") }
                }
            }
            return BootResult(bootSeconds: sessions.first?.bootSeconds)
        }
    }

    /// A workload failed in a boot: the boot is stored with what its kernel said (console and dmesg
    /// splats: an oops, the OOM killer, a panic), and the error names it, so nothing the guest could still
    /// tell is lost. The boot counts for nothing else (`BootRecord.workloadFailed`).
    func salvage(_ error: any Error, side: Side, phase: Phase, purpose: BootPurpose, round: Int, sessions: [any GuestSession],
                 specs: [GuestSpec], context: TestContext) async -> NetrigError {
        var failure = Self.netrigError(error, phase: phase)
        for (index, guest) in sessions.enumerated() {
            let collected = await collector.salvage(on: guest, side: side)
            var boot = BootRecord(side: side, nic: context.plan.request.nic, accelerator: specs[index].accelerator, clock: specs[index].clock,
                                  kmemleak: purpose == .leaks, bootSeconds: guest.bootSeconds, consoleLog: guest.consoleLog,
                                  dmesg: collected.dmesg,
                                  workloadTranscript: BootRecord.workloadFailedPrefix + (index == 0 ? "\(failure)" : "on the other guest"),
                                  unsupportedReason: nil, kmemleakReport: nil, workloadFailed: true, round: round, guest: index)
            if let id = try? await store.recordBoot(context.runID, boot, samples: [], collected: collected) {
                boot.id = id
                context.evidence.add(boot, samples: [], collected: collected)
            }
            if !collected.splats.isEmpty {
                failure.details.append("the kernel of guest \(guest.name) said: " + collected.splats.map(\.title).joined(separator: "; "))
                // The kernel under test complained: `attribute` decides by side and evidence whose doing that is.
                failure.blame = .series
            }
        }
        return failure
    }
}
