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
        let choice = NICChoice.automatic(for: workload(nics: [.e1000e, .vmxnet3, .veth, .virtioNet], unit: "Gbit/s"))
        #expect(choice.model == .veth)
        #expect(choice.reason.contains("steady in virtual time"))
        // A workload that measures no data rate keeps the NIC it names first.
        #expect(NICChoice.automatic(for: workload(nics: [.e1000e, .virtioNet], unit: "cycles/s")).model == .e1000e)
        // None steady: its first, and the reason says so.
        let none = NICChoice.automatic(for: workload(nics: [.vmxnet3, .e1000e], unit: "MiB/s"))
        #expect(none.model == .vmxnet3 && none.reason.contains("none of its NICs"))
    }

    @Test func aNamedNICThatCannotHoldTheGoalIsNamedBeforeMeasuring() throws {
        let rates = workload(nics: [.virtioNet, .vmxnet3, .igb], unit: "MiB/s")
        let vmxnet3 = try #require(NICChoice.caveat(for: .vmxnet3, workload: rates, clock: .virtual))
        #expect(vmxnet3.hasPrefix("vmxnet3: throughput in virtual time is not steady here"))
        #expect(vmxnet3.contains("--nic virtio-net."), "only the workload's own steady NICs are offered: \(vmxnet3)")
        let igb = try #require(NICChoice.caveat(for: .igb, workload: rates, clock: .virtual))
        #expect(igb.contains("never measured (igb needs QEMU 8.0"))
        #expect(NICChoice.caveat(for: .virtioNet, workload: rates, clock: .virtual) == nil)
        #expect(NICChoice.caveat(for: .vmxnet3, workload: workload(nics: [.vmxnet3], unit: "cycles/s"), clock: .virtual) == nil)
    }

    @Test func adviceForAnUndecidableMetricPointsAtASteadyNIC() throws {
        let setting = MetricComparison.Setting(nic: .e1000e, clock: .virtual, workload: "msg_zerocopy", maxRepetitions: 4)
        let advice = try #require(MetricComparison.advice(runsNeeded: 400, noise: 0.05, baseline: [100, 100, 90], patched: [100, 99, 100],
                                                    setting: setting))
        #expect(advice.contains("a NIC whose throughput is steady in virtual time (--nic virtio-net or veth): on e1000e, the emulated e1000e loses"),
                "\(advice)")
        var steady = setting
        steady.nic = .virtioNet
        #expect(MetricComparison.advice(runsNeeded: 400, noise: 0.05, baseline: [100], patched: [100], setting: steady)?.contains("another NIC (--nic)") == true)
    }
}
