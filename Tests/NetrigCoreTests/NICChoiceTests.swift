import NetrigCore
import Testing

@Suite struct NICChoiceTests {
    func workload(nics: [NICModel], unit: String) -> WorkloadDefinition {
        WorkloadDefinition(name: "w", summary: "", topologies: [.loop], nics: nics, requiredSymbols: [], programs: [],
                           duration: 1, timeout: .seconds(5), server: [], client: ["p"],
                           modes: [WorkloadMode(name: "m", clientArguments: [])],
                           metrics: [MetricSpec(name: "rate", unit: unit, step: "client", stream: .stdout, pattern: "(\\d+)", perSecond: true)],
                           unsupported: [])
    }

    @Test func aThroughputWorkloadSkipsNICsWhoseRateDoesNotHoldStill() {
        let choice = NICChoice.automatic(for: workload(nics: [.igb, .netdevsim, .veth, .virtioNet], unit: "Gbit/s"))
        #expect(choice.model == .veth)
        #expect(choice.reason.contains("steady in virtual time"))
        // A workload that measures no data rate keeps the NIC it names first.
        #expect(NICChoice.automatic(for: workload(nics: [.igb, .virtioNet], unit: "cycles/s")).model == .igb)
        // None steady: its first, and the reason says so.
        let none = NICChoice.automatic(for: workload(nics: [.netdevsim, .igb], unit: "MiB/s"))
        #expect(none.model == .netdevsim && none.reason.contains("none of its NICs"))
    }

    @Test func aNamedNICThatCannotHoldTheGoalIsNamedBeforeMeasuring() throws {
        let rates = workload(nics: [.virtioNet, .netdevsim, .igb], unit: "MiB/s")
        let igb = try #require(NICChoice.caveat(for: .igb, workload: rates, clock: .virtual))
        #expect(igb.hasPrefix("igb: how steady its throughput is in virtual time was never measured (igb needs QEMU 8.0"), "\(igb)")
        #expect(igb.contains("--nic virtio-net."), "only the workload's own steady NICs are offered: \(igb)")
        #expect(NICChoice.caveat(for: .virtioNet, workload: rates, clock: .virtual) == nil)
        #expect(NICChoice.caveat(for: .igb, workload: workload(nics: [.igb], unit: "cycles/s"), clock: .virtual) == nil)
        #expect(NICChoice.caveat(for: .igb, workload: rates, clock: .real) == nil, "the real clock's noise is the run's to measure")
        // What a traced cause reads like.
        #expect(ThroughputStability.outliers("why").isSteady == false)
    }

    @Test func adviceForAnUndecidableMetricPointsAtASteadyNIC() throws {
        let setting = MetricComparison.Setting(nic: .netdevsim, clock: .virtual, workload: "msg_zerocopy", maxRepetitions: 4)
        let advice = try #require(MetricComparison.advice(runsNeeded: 400, noise: 0.05, baseline: [100, 100, 90], patched: [100, 99, 100],
                                                    setting: setting))
        #expect(advice.contains("a NIC whose throughput is steady in virtual time (--nic virtio-net or e1000e or vmxnet3 or veth): on netdevsim, netdevsim is not in the bench yet"),
                "\(advice)")
        var steady = setting
        steady.nic = .virtioNet
        #expect(MetricComparison.advice(runsNeeded: 400, noise: 0.05, baseline: [100], patched: [100], setting: steady)?.contains("another NIC (--nic)") == true)
    }
}
