import Testing
@testable import NetrigCore

/// A throughput boot whose kernel could not keep time decides nothing (issue 17).
@Suite struct GuestClockHealthTests {
    // Lines as Linux 6.12 prints them (arch/x86/kernel/apic/apic.c, kernel/rcu/tree_stall.h,
    // kernel/time/clocksource.c), with dmesg timestamps and the console's CR.
    let broken = """
    [    0.433717] hpet: 3 channels of 0 reserved for per-cpu timers\r
    [    0.512210] APIC timer disabled due to verification failure\r
    [   61.001234] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:\r
    [   61.001240] rcu: rcu_sched kthread starved for 5252 jiffies! g1137 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=1\r
    [   70.100000] clocksource: timekeeping watchdog on CPU0: Marking clocksource 'tsc' as unstable because the skew is too large:\r
    """

    @Test func findsEachKindOfTimekeepingFailureOnce() {
        let problems = GuestClockHealth.problems(inKernelLog: broken + "\n" + broken)
        #expect(problems.count == 4, "\(problems)")
        #expect(problems[0] == "the local APIC timer failed its calibration (\"APIC timer disabled due to verification failure\")")
        #expect(problems.contains { $0.hasPrefix("RCU detected a stall") })
        #expect(problems.contains { $0.hasPrefix("the RCU kthread starved") && $0.contains("5252 jiffies") })
        #expect(problems.contains { $0.hasPrefix("the clocksource watchdog") && $0.contains("'tsc'") })
    }

    @Test func aHealthyBootHasNoProblem() {
        let healthy = """
        [    0.041588] ACPI: PM-Timer IO Port: 0x608
        [    0.091391] tsc: Marking TSC unstable due to TSCs unsynchronized
        [    0.433830] clocksource: Switched to clocksource hpet
        [    0.438726] clocksource: acpi_pm: mask: 0xffffff max_cycles: 0xffffff, max_idle_ns: 2085701024 ns
        """
        #expect(GuestClockHealth.problems(inKernelLog: healthy).isEmpty)
    }

    @Test func distrustedMetricsAreUndecidedWhateverTheyShowed() {
        let sample = { (side: Side, value: Double) in
            Sample(side: side, workload: "w", nic: .virtioNet, metric: "copy/throughput", unit: "MiB/s", repetition: 1,
                   value: value, higherIsBetter: true)
        }
        var comparison = Comparison(samples: [100, 100.1, 99.9, 100, 100.05].map { sample(.baseline, $0) }
                                    + [90, 90.1, 89.9, 90, 90.05].map { sample(.patched, $0) }, leaks: [], splats: [])
        #expect(comparison.metrics[0].verdict == .regression)
        comparison.distrustMetrics(because: "a guest that measured it could not keep time")
        #expect(comparison.metrics[0].verdict == .inconclusive)
        #expect(comparison.metrics[0].verdictText == "inconclusive: a guest that measured it could not keep time")
        #expect(!comparison.seriesBrokeSomething)
        #expect(comparison.undecided.count == 1)
    }
}
