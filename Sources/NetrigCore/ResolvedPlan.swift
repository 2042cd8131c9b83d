/// How a run picks its accelerator and clock, decided once from the request (or the stored run).
public enum MachinePolicy: Sendable, Equatable {
    /// No probe: `--accel`, `--clock virtual` (which needs TCG) or a resumed run's stored boots fixed both.
    case fixed(Accelerator, MeasurementClock, reason: String)
    /// The probe boots the baseline kernel under KVM; the clock follows the accelerator it answers.
    case probe(clockUnderKVM: MeasurementClock, clockUnderTCG: MeasurementClock)
}

/// A run plan with every default applied, once, before anything runs: the topology, the machine policy,
/// the repetition limit, the leak rounds. The engine, a resumed run, `netrig boot` and the stored run's
/// pages read these values and never work them out again.
public struct ResolvedPlan: Sendable, Equatable {
    /// The request as it is stored: the same as given, with its topology filled in.
    public var request: RunPlan
    public var topology: Topology
    public var machine: MachinePolicy
    /// The clock of a run that falls back from a probed KVM to TCG.
    public var fallbackClock: MeasurementClock
    /// The most runs per side an inconclusive metric may ask for.
    public var maxRepetitions: Int
    /// Leak checks per side at most: 0 without the leak check; else the first, and a second that
    /// confirms a new leak.
    public var maxLeakRounds: Int
    public var buildOnly: Bool
    public var viommu: Bool
    public var extraCommandLine: [String]
    /// The run's one test link.
    public var link: NetworkLink { NetworkLink(model: request.nic, topology: topology) }

    /// The clock of a run on `accelerator` when `--clock` was not given: virtual under TCG in the loop
    /// topology (two guests' instruction counters share no clock), real otherwise.
    public static func defaultClock(_ requested: MeasurementClock?, accelerator: Accelerator, topology: Topology) -> MeasurementClock {
        requested ?? (accelerator == .tcg && topology == .loop ? .virtual : .real)
    }

    /// Applies every default and refuses a plan that cannot run: a NIC the workload or topology cannot use,
    /// a topology the workload does not declare, virtual time across two guests or under KVM. `stored` is a
    /// resumed run's machine (its boots' accelerator and clock), which the rest of it keeps.
    public static func resolve(_ plan: RunPlan, workload: WorkloadDefinition,
                               stored: (accelerator: Accelerator, clock: MeasurementClock)? = nil) throws -> ResolvedPlan {
        let topology = plan.topology ?? workload.topologies.first ?? .loop
        func refuse(_ subject: String?, _ message: String, details: [String] = []) -> NetrigError {
            NetrigError(phase: .configure, blame: .usage, subject: subject, message: message, details: details)
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
        let machine: MachinePolicy
        if let stored {
            machine = .fixed(stored.accelerator, stored.clock, reason: "as the boots stored before the run was resumed")
        } else if let forced = plan.accelerator {
            let clock = defaultClock(plan.clock, accelerator: forced, topology: topology)
            if clock == .virtual, forced == .kvm {
                throw refuse("--clock virtual", "the virtual clock needs TCG; KVM has no instruction counting",
                             details: ["use --clock real, or --accel tcg"])
            }
            machine = .fixed(forced, clock, reason: "--accel \(forced.rawValue)")
        } else if plan.clock == .virtual {
            machine = .fixed(.tcg, .virtual, reason: "--clock virtual needs TCG")
        } else {
            machine = .probe(clockUnderKVM: defaultClock(plan.clock, accelerator: .kvm, topology: topology),
                             clockUnderTCG: defaultClock(plan.clock, accelerator: .tcg, topology: topology))
        }
        var request = plan
        request.topology = topology
        return ResolvedPlan(request: request, topology: topology, machine: machine,
                            fallbackClock: defaultClock(plan.clock, accelerator: .tcg, topology: topology),
                            maxRepetitions: plan.maxRepetitions ?? plan.repetitions, maxLeakRounds: plan.leakCheck ? 2 : 0,
                            buildOnly: plan.isBuildOnly, viommu: plan.usesVIOMMU, extraCommandLine: plan.kernelArguments)
    }
}

extension RunPlan {
    /// The topology of a stored run: runs stored before topologies existed were all `loop`. (A run the
    /// engine started has it filled in by `ResolvedPlan.resolve`.)
    public var storedTopology: Topology { topology ?? .loop }
    /// Whether it booted behind a virtual IOMMU (nil in runs stored before the option: no).
    public var usesVIOMMU: Bool { viommu ?? false }
    /// Its extra kernel arguments (nil in runs stored before the option: none).
    public var kernelArguments: [String] { extraCommandLine ?? [] }
    /// Whether it stopped after the builds (nil in runs stored before the option: no).
    public var isBuildOnly: Bool { buildOnly ?? false }
}

extension Comparison {
    /// The comparison of a run's evidence under its plan: how the run, `show`, `compare` and the pages
    /// all compare (`Comparison(_:setting:)`), in the clock its throughput boots measured in.
    public init(_ evidence: RunEvidence, plan: RunPlan) {
        self.init(evidence, setting: plan.setting(clock: evidence.measurementClock ?? .virtual))
    }
}

extension MachineChoice {
    /// The machine of a run under `policy`: fixed, or what the probe answers for `kernel` (undecided is TCG).
    public static func choose(_ policy: MachinePolicy, fallbackClock: MeasurementClock, probe: () async -> AcceleratorAnswer) async -> MachineChoice {
        switch policy {
        case .fixed(let accelerator, let clock, let reason):
            return MachineChoice(accelerator: accelerator, clock: clock, reason: reason, mayFallBack: false, fallbackClock: fallbackClock)
        case .probe(let clockUnderKVM, let clockUnderTCG):
            let answer = await probe()
            let accelerator = answer.accelerator ?? .tcg
            let reason = answer.accelerator == nil ? "undecided, so TCG: \(answer.reason)" : answer.reason
            return MachineChoice(accelerator: accelerator, clock: accelerator == .kvm ? clockUnderKVM : clockUnderTCG, reason: reason,
                                 mayFallBack: accelerator == .kvm, fallbackClock: fallbackClock)
        }
    }
}

extension MachinePolicy {
    /// The policy of guests booted in one given clock (`netrig boot --clock`): `--accel` fixes the
    /// accelerator, the virtual clock needs TCG, otherwise the probe decides.
    public static func given(accelerator: Accelerator?, clock: MeasurementClock) throws -> MachinePolicy {
        if clock == .virtual {
            guard accelerator != .kvm else {
                throw NetrigError(phase: .configure, blame: .usage, subject: "--clock virtual",
                                  message: "the virtual clock needs TCG; KVM has no instruction counting", details: ["use --clock real, or --accel tcg"])
            }
            return .fixed(.tcg, .virtual, reason: "--clock virtual needs TCG")
        }
        if let accelerator { return .fixed(accelerator, clock, reason: "--accel \(accelerator.rawValue)") }
        return .probe(clockUnderKVM: clock, clockUnderTCG: clock)
    }
}
