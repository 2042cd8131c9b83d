/// What a throughput boot's kernel log says about its own timekeeping. A guest whose local APIC timer
/// failed its calibration, whose clocksource the watchdog threw out or whose RCU kthread starved measured
/// its throughput with a clock that did not work (docs/VIRTUAL-TIME.md: an idle vCPU that misses its
/// broadcast tick stalls the workload for hundreds of jiffies), so no verdict rests on its samples.
public enum GuestClockHealth {
    static let signatures: [(pattern: String, meaning: String)] = [
        (#"APIC timer disabled due to verification failure"#, "the local APIC timer failed its calibration"),
        (#"rcu: INFO: rcu_\w+ (self-)?detected stall"#, "RCU detected a stall"),
        (#"rcu_\w+ kthread (timer wakeup didn't happen|starved)"#, "the RCU kthread starved"),
        (#"clocksource: .*[Mm]arking clocksource '?\w+'? as unstable"#, "the clocksource watchdog marked a clock unstable"),
        (#"Watchdog detected hard LOCKUP|BUG: soft lockup"#, "a CPU locked up"),
    ]

    /// Why the metrics are not trusted when a measuring guest could not keep time; nil when every one could.
    public static func distrust(_ problems: [String]) -> String? {
        problems.first.map { "a guest that measured it could not keep time: \($0)" + (problems.count > 1 ? " and \(problems.count - 1) more" : "") }
    }

    /// One problem per kind, with the first line that showed it.
    public static func problems(inKernelLog text: String) -> [String] {
        let lines = text.lines
        return signatures.compactMap { signature in
            let regex = try! Regex(signature.pattern)
            return lines.first { $0.contains(regex) }.map { "\(signature.meaning) (\"\($0.withoutDmesgTimestamp.trimmingWhitespace)\")" }
        }
    }
}

extension Comparison {
    /// Every measured metric undecided, because the guests that measured it could not keep time: a
    /// regression, an improvement or "no significant change" measured that way proves nothing.
    public mutating func distrustMetrics(because reason: String) {
        for index in metrics.indices {
            metrics[index].verdict = .inconclusive
            metrics[index].runsNeeded = nil
            metrics[index].advice = reason
        }
    }
}
