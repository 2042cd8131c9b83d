import Foundation
import Testing
@testable import NetrigCore

@Suite struct FindingTests {
    let plan = RunPlan(treeRequest: nil, baseRequest: nil, seriesPath: "s", configName: "default", nic: .vmxnet3,
                       workload: "msg_zerocopy", repetitions: 5, leakCheck: true, clock: nil, accelerator: nil,
                       memoryMiB: 1024, vcpus: 2, commandLine: [])

    @Test func comparisonFindingsCarryTheirEvidence() {
        let samples = (0..<5).flatMap { i -> [Sample] in
            [Sample(side: .baseline, workload: "w", nic: .vmxnet3, metric: "copy/throughput", unit: "MiB/s", repetition: i,
                    value: 100 + Double(i) * 0.01, higherIsBetter: true),
             Sample(side: .patched, workload: "w", nic: .vmxnet3, metric: "copy/throughput", unit: "MiB/s", repetition: i,
                    value: 95 + Double(i) * 0.01, higherIsBetter: true)]
        }
        let leak = Leak(side: .patched, size: 64, comm: "msg_zerocopy", backtrace: ["sk_setsockopt+0x1/0x2"],
                        fingerprint: "sk_setsockopt", raw: "unreferenced object")
        let stall = Splat(side: .patched, kind: .stalledPool, title: "page_pool_release_retry() stalled pool shutdown", text: "t")
        let comparison = Comparison(samples: samples, leaks: [leak], splats: [stall])
        let findings = Finding.from(comparison, plan: plan)
        #expect(findings.map(\.kind) == [.throughput, .leak, .pagePool])
        #expect(findings.allSatisfy { $0.blame == .series && $0.nic == "vmxnet3" && $0.patch == nil })
        let throughput = findings[0]
        #expect(throughput.evidence.delta.map { abs($0 + 0.05) < 0.001 } == true)
        #expect(throughput.evidence.interval?.count == 2)
        #expect(throughput.evidence.pValue.map { $0 < 0.05 } == true)
        #expect(findings[1].evidence.fingerprint == "sk_setsockopt")
        #expect(findings[1].evidence.backtrace == ["sk_setsockopt+0x1/0x2"])
    }

    @Test func errorsBecomeFindingsWithThePatchAtFault() {
        let apply = Finding.from(NetrigError(phase: .applySeries, blame: .series, subject: "patch 2/3 'x'", message: "does not apply",
                                             details: ["does not apply to a.c at line 6"], patch: 2), plan: plan)
        #expect(apply.kind == .apply)
        #expect(apply.patch == 2)
        #expect(apply.evidence.details == ["does not apply to a.c at line 6"])
        let libvirt = Finding.from(NetrigError(phase: .testBaseline, blame: .infrastructure, message: "cannot connect"), plan: plan)
        #expect(libvirt.kind == .infrastructure)
        // The kind comes from the code, never from the message's words.
        let dropped = Finding.from(NetrigError(phase: .buildPatched, blame: .series, subject: "CONFIG_X",
                                               message: "requested symbol(s) did not survive", code: .configRefused), plan: plan)
        #expect(dropped.kind == .config)
        let worded = Finding.from(NetrigError(phase: .buildPatched, blame: .series, subject: "patched kernel",
                                              message: "olddefconfig said something", code: .buildFailed, log: "/logs/p.log"), plan: plan)
        #expect(worded.kind == .build)
        #expect(worded.evidence.details == ["log: /logs/p.log"], "the log is evidence, as a line of its own")
        let panic = Finding.from(NetrigError(phase: .testPatched, blame: .series, message: "the kernel panicked during boot"), plan: plan)
        #expect(panic.kind == .boot)
    }

    @Test func reportEncodesTheDocumentedKeys() throws {
        let report = RunReport(run: 3, verdict: .fail, findings: [], comparison: nil, clock: .virtual,
                               phases: [PhaseRecord(phase: .compare, seconds: 0.1, outcome: .completed)])
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let object = try JSONSerialization.jsonObject(with: try encoder.encode(report)) as? [String: Any]
        #expect(object?["run"] as? Int == 3)
        #expect(object?["verdict"] as? String == "fail")
        #expect(object?["findings"] is [Any])
        #expect(object?["clock"] as? String == "virtual")
        #expect(object?["leaks"] == nil, "no comparison, no leak classes")

        let once = Leak(side: .patched, size: 8, comm: "c", backtrace: [], fingerprint: "once", raw: "")
        let compared = RunReport(run: 3, verdict: .pass, findings: [],
                                 comparison: Comparison(samples: [], leaks: [once], splats: [], patchedLeakRounds: 2),
                                 clock: .virtual, phases: [])
        let leaks = (try JSONSerialization.jsonObject(with: try encoder.encode(compared)) as? [String: Any])?["leaks"] as? [String: [String]]
        #expect(leaks == ["new": [], "persisting": [], "gone": [], "unconfirmed": ["once"]])
    }

    @Test func unattributedFindingsWritePatchAsNull() throws {
        let finding = Finding(kind: .leak, blame: .series, config: "default", nic: "virtio-net", workload: "w", patch: nil,
                              summary: "s", evidence: Finding.Evidence(fingerprint: "f"))
        let text = String(decoding: try JSONEncoder().encode(finding), as: UTF8.self)
        #expect(text.contains("\"patch\":null"))
        let metric = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: [1, 2, 3, 4], patched: [1, 2, 3, 4])
        let encoded = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(metric)) as? [String: Any]
        #expect((encoded?["interval"] as? [Double])?.count == 2, "the interval is [lower, upper]")
    }
}
