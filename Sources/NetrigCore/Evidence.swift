/// Identifies a stored boot.
public typealias BootID = Int64

/// What a boot was for.
public enum BootPurpose: String, Sendable, Codable {
    /// kmemleak off (it slows every allocation), all repetitions, samples kept.
    case throughput
    /// kmemleak on, each mode once to exercise the code, samples discarded, leaks scanned.
    case leaks
}

/// Everything a run's boots measured and found, each item tied to its boot: the one input of every
/// comparison of a run. The engine builds it boot by boot (a resumed run starts from the stored one);
/// `show`, `compare`, the pages and `--resume` load it from the store. The same evidence gives the same
/// comparison, whoever asks.
public struct RunEvidence: Sendable, Equatable {
    public var workload: String
    public var boots: [BootRecord]
    public var samples: [Sample]
    public var leaks: [Leak]
    public var splats: [Splat]

    public init(workload: String, boots: [BootRecord] = [], samples: [Sample] = [], leaks: [Leak] = [], splats: [Splat] = []) {
        self.workload = workload
        self.boots = boots
        self.samples = samples
        self.leaks = leaks
        self.splats = splats
    }

    /// Adds a stored boot (`id` set) with what it measured and found, each tied to it.
    public mutating func add(_ boot: BootRecord, samples: [Sample], collected: Collected) {
        boots.append(boot)
        self.samples += samples.map { var sample = $0; sample.boot = boot.id; return sample }
        leaks += collected.leaks.map { var leak = $0; leak.boot = boot.id; leak.round = boot.round; return leak }
        splats += collected.splats.map { var splat = $0; splat.boot = boot.id; return splat }
    }

    /// The boots whose workload completed (or was unsupported): the only ones that count. A boot whose
    /// workload failed is kept for its console and splats, which the error that stopped the run names.
    public func completedBoots(_ side: Side? = nil, _ purpose: BootPurpose? = nil) -> [BootRecord] {
        boots.filter { !$0.workloadFailed && (side == nil || $0.side == side) && (purpose == nil || $0.purpose == purpose) }
    }

    private var completedIDs: Set<BootID?> { Set(completedBoots().map(\.id)) }

    /// The leak checks a side completed: distinct rounds of its leak boots (the guests of a pair are one
    /// boot of the kernel, in one round). The one formula of "confirmed".
    public func leakRounds(_ side: Side) -> Int {
        Set(completedBoots(side, .leaks).map(\.round)).count
    }

    /// Whether the side completed the leak check of this round.
    public func hasLeakRound(_ side: Side, _ round: Int) -> Bool {
        completedBoots(side, .leaks).contains { $0.round == round }
    }

    /// The stored samples of these repetitions of a side, when every one of them is there.
    public func samples(_ side: Side, repetitions: Set<Int>) -> [Sample]? {
        let kept = countedSamples.filter { $0.side == side && repetitions.contains($0.repetition) }
        return Set(kept.map(\.repetition)) == repetitions ? kept : nil
    }

    /// The samples, leaks and splats of completed boots.
    public var countedSamples: [Sample] { let ids = completedIDs; return samples.filter { ids.contains($0.boot) } }
    public var countedLeaks: [Leak] { let ids = completedIDs; return leaks.filter { ids.contains($0.boot) } }
    public var countedSplats: [Splat] { let ids = completedIDs; return splats.filter { ids.contains($0.boot) } }

    /// The accelerator and clock its boots used (a resumed run keeps them).
    public var machine: (accelerator: Accelerator, clock: MeasurementClock)? {
        boots.first.map { ($0.accelerator, $0.clock) }
    }

    /// The clock its throughput was measured in: that of its throughput boots.
    public var measurementClock: MeasurementClock? {
        (completedBoots(nil, .throughput).first ?? boots.first)?.clock
    }

    /// What the kernels of its completed throughput boots said about their own clocks, one line per boot
    /// and problem: "baseline throughput boot, round 1: the local APIC timer failed its calibration (…)".
    public var clockProblems: [String] {
        completedBoots(nil, .throughput).flatMap { boot in
            GuestClockHealth.problems(inKernelLog: boot.dmesg).map { "\(boot.label): \($0)" }
        }
    }

    /// The checks its completed boots could not make, by side.
    public var unchecked: [(side: Side, check: UncheckedCheck)] {
        completedBoots().flatMap { boot in boot.uncheckedChecks(workload: workload).map { (boot.side, $0) } }
    }

    /// One side's evidence playing `role` (`netrig compare A B`: the first kernel plays the baseline).
    public func side(_ side: Side, as role: Side) -> RunEvidence {
        let ids = Set(boots.filter { $0.side == side }.map(\.id))
        return RunEvidence(workload: workload,
                           boots: boots.filter { $0.side == side }.map { var b = $0; b.side = role; return b },
                           samples: samples.filter { $0.side == side && ids.contains($0.boot) }.map { var s = $0; s.side = role; return s },
                           leaks: leaks.filter { $0.side == side && ids.contains($0.boot) }.map { var l = $0; l.side = role; return l },
                           splats: splats.filter { $0.side == side && ids.contains($0.boot) }.map { var s = $0; s.side = role; return s })
    }

    public static func + (a: RunEvidence, b: RunEvidence) -> RunEvidence {
        RunEvidence(workload: b.workload, boots: a.boots + b.boots, samples: a.samples + b.samples, leaks: a.leaks + b.leaks,
                    splats: a.splats + b.splats)
    }
}

extension BootRecord {
    /// "patched throughput boot, round 2" (", peer" for a pair's second guest).
    public var label: String {
        "\(side.rawValue) \(purpose.rawValue) boot, round \(round)" + (guest > 0 ? ", peer" : "")
    }
}

extension Comparison {
    /// The comparison of a run's evidence: its completed boots' samples, leaks (a new one confirmed by
    /// every leak round of the patched side) and splats, its metrics distrusted when a measuring guest could
    /// not keep time, and the checks it could not make. The run, `show`, `compare`, the pages and a resumed
    /// run all build their comparison here.
    public init(_ evidence: RunEvidence, setting: MetricComparison.Setting?) {
        let clock = evidence.measurementClock ?? setting?.clock ?? .virtual
        self.init(samples: evidence.countedSamples, leaks: evidence.countedLeaks, splats: evidence.countedSplats,
                  patchedLeakRounds: max(1, evidence.leakRounds(.patched)), minimumEffect: clock.minimumEffect, setting: setting)
        if let reason = GuestClockHealth.distrust(evidence.clockProblems) { distrustMetrics(because: reason) }
        unchecked = UncheckedCheck.summarize(evidence.unchecked)
        uncheckedNames = evidence.unchecked.map(\.check.check).uniqued()
    }
}
