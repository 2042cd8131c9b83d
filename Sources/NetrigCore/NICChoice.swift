/// How repeatable a NIC model's TCP throughput is in virtual time, as `bench/clock-noise` measured it on a
/// 2-core TCG host, quiet and with one core kept busy (docs/VIRTUAL-TIME.md, "Per NIC"). It decides which
/// NIC `netrig run` measures throughput on when the user names none, and what it says before measuring
/// when the user names one that cannot hold the goal (CV ≤ 0.5 % at 5 runs per side). The verdict never
/// leans on it: it always judges with the noise measured in the run itself.
public enum ThroughputStability: Sendable, Equatable {
    /// Samples agree to a few tenths of a percent, on a quiet and on a disturbed host.
    case steady
    /// Most samples agree, but some fall well short; the reason, as far as it was traced.
    case outliers(String)
    /// Not measured by the bench on this host; the reason.
    case unmeasured(String)

    public var isSteady: Bool { self == .steady }
}

extension NICModel {
    /// The stability of this model's throughput in virtual time (`--clock virtual`).
    public var throughputInVirtualTime: ThroughputStability {
        switch self {
        // CV 0.03–0.22 % beside `stress-ng --cpu 1`, 5 runs per side (e1000e and vmxnet3 with TSO off:
        // `offloadsTurnedOff`; with it on, QEMU's IP fragments made them fall 5–30 % short now and then).
        case .virtioNet, .veth, .e1000e, .vmxnet3:
            .steady
        case .igb:
            .unmeasured("igb needs QEMU 8.0, and the bench host has 7.2")
        case .netdevsim:
            .unmeasured("netdevsim is not in the bench yet")
        }
    }
}

extension MetricSpec {
    /// A data rate (MiB/s, Gbit/s): what a NIC's emulation bounds, unlike cycles per second or CPU shares.
    public var isDataRate: Bool { unit.hasSuffix("B/s") || unit.hasSuffix("bit/s") }
}

extension WorkloadDefinition {
    /// Whether the workload measures how many bytes cross the link per second.
    public var measuresDataRate: Bool { metrics.contains(where: \.isDataRate) }
}

/// Which NIC a run measures on when the user names none, and what netrig says before measuring about a
/// NIC whose throughput cannot hold still.
public enum NICChoice {
    /// The NIC for `workload` when `--nic` is not given: the workload's own order (its first NIC is the one
    /// it is written for, such as vmxnet3 for page-pool churn), except that a workload measuring data rates
    /// skips NICs whose throughput is not steady in virtual time, so the default run can decide a 2 % change.
    public static func automatic(for workload: WorkloadDefinition) -> (model: NICModel, reason: String) {
        let first = workload.nics.first ?? .virtioNet
        guard workload.measuresDataRate else {
            return (first, "the first NIC workload \(workload.name) names")
        }
        guard let steady = workload.nics.first(where: { $0.throughputInVirtualTime.isSteady }) else {
            return (first, "the first NIC workload \(workload.name) names; none of its NICs has steady throughput in virtual time")
        }
        if steady == first {
            return (steady, "the first NIC workload \(workload.name) names, with steady throughput in virtual time")
        }
        return (steady, "the first NIC workload \(workload.name) names whose throughput is steady in virtual time")
    }

    /// What to say before measuring `workload` on `model` under `clock` (nil: the accelerator decides),
    /// or nil when there is nothing to warn of: a workload without data rates, or a steady NIC.
    public static func caveat(for model: NICModel, workload: WorkloadDefinition, clock: MeasurementClock?) -> String? {
        guard workload.measuresDataRate, clock != .real else { return nil }
        let steadyOnes = workload.nics.filter { $0.throughputInVirtualTime.isSteady }.map(\.rawValue)
        let alternative = steadyOnes.isEmpty ? "" : " For a throughput proof use --nic \(steadyOnes.joined(separator: " or "))."
        switch model.throughputInVirtualTime {
        case .steady:
            return nil
        case .outliers(let why):
            return "\(model.rawValue): throughput in virtual time is not steady here: \(why). The verdict judges with the noise "
                + "this run measures, so a small change may come out inconclusive or need more runs.\(alternative)"
        case .unmeasured(let why):
            return "\(model.rawValue): how steady its throughput is in virtual time was never measured (\(why)); the verdict "
                + "judges with the noise this run measures.\(alternative)"
        }
    }
}
