import ArgumentParser
import NetrigCore

/// `RUN`, `RUN:baseline` or `RUN:patched`: one kernel's samples in a stored run.
struct KernelReference: Equatable {
    var run: RunID
    var side: Side?

    init(_ text: String) throws {
        let parts = text.split(separator: ":")
        guard let first = parts.first, let run = RunID(first), parts.count <= 2 else {
            throw ValidationError("'\(text)' is not RUN, RUN:baseline or RUN:patched")
        }
        self.run = run
        if parts.count == 2 {
            guard let side = Side(rawValue: String(parts[1])) else {
                throw ValidationError("'\(text)': side must be baseline or patched")
            }
            self.side = side
        }
    }
}

struct CompareCommand: NetrigCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare baseline with patched: within one run (RUN), or two kernels of stored runs (A B).",
        discussion: "A kernel is RUN:baseline or RUN:patched; a bare RUN means its patched kernel when two are given.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "RUN, or two kernels A B.")
    var kernels: [String]

    @Flag(help: "Compare even when the runs differ in config, workload, NIC, accelerator, clock or kmemleak mode.")
    var force = false

    @OptionGroup var report: JSONOption
    var json: String? { report.json }

    func run(_ context: NetrigContext) async throws {
        let say = context.say(json: json)
        let store = try context.openStore()
        guard (1...2).contains(kernels.count) else { throw ValidationError("give one run, or two kernels") }
        let references = try kernels.map(KernelReference.init)
        let runs = try await references.asyncMap { reference -> StoredRun in
            guard let run = try await store.loadRun(reference.run) else {
                throw ValidationError("no run \(reference.run) in \(context.storePath)")
            }
            return run
        }
        let a: (StoredRun, Side), b: (StoredRun, Side)
        if references.count == 1 {
            a = (runs[0], references[0].side ?? .baseline)
            b = (runs[0], references[0].side == .baseline ? .patched : (references[0].side ?? .patched))
        } else {
            a = (runs[0], references[0].side ?? .patched)
            b = (runs[1], references[1].side ?? .patched)
        }
        if !force, let reason = Self.incomparable(a, b) {
            say("not comparable: \(reason) (use --force to compare anyway)")
            throw ExitWithVerdict(code: Verdict.error.exitCode)
        }
        let comparison = Self.comparison(a, b)
        let labelA = "\(a.0.summary.id):\(a.1.rawValue)", labelB = "\(b.0.summary.id):\(b.1.rawValue)"
        say("comparing \(labelA) (\(a.0.summary.seriesTitle)) with \(labelB) (\(b.0.summary.seriesTitle))")
        say(ComparisonReport.table(comparison, baselineLabel: labelA, patchedLabel: labelB), terminator: "")
        let findings = Finding.from(comparison, plan: b.0.plan)
        let verdict = Verdict.of(findings: findings, comparison: comparison)
        say("verdict: \(verdict.rawValue): \(ComparisonReport.verdictMeaning(verdict, comparison: comparison))")
        if let json {
            try ReportWriter.write(RunReport(run: references.count == 1 ? a.0.summary.id : nil, verdict: verdict,
                                             findings: findings, comparison: comparison,
                                             clock: a.0.measurementClock, phases: []), to: json, context: context)
        }
        if verdict != .pass { throw ExitWithVerdict(code: verdict.exitCode) }
    }

    /// Two kernels' evidence, the first playing the baseline and the second the patched side, compared as
    /// a run compares its own (`Comparison(_:setting:)`). Within one run this is that run's comparison.
    static func comparison(_ a: (StoredRun, Side), _ b: (StoredRun, Side)) -> Comparison {
        let evidence = a.0.evidence.side(a.1, as: .baseline) + b.0.evidence.side(b.1, as: .patched)
        return Comparison(evidence, plan: b.0.plan)
    }

    /// Why two kernels' samples must not be compared, or nil when they may.
    static func incomparable(_ a: (StoredRun, Side), _ b: (StoredRun, Side)) -> String? {
        if a.0.summary.id == b.0.summary.id, a.1 == b.1 { return "that is the same kernel twice" }
        let pa = a.0.plan, pb = b.0.plan
        if pa.configName != pb.configName { return "configs differ (\(pa.configName) vs \(pb.configName))" }
        if pa.workload != pb.workload { return "workloads differ (\(pa.workload) vs \(pb.workload))" }
        if pa.nic != pb.nic { return "NICs differ (\(pa.nic.rawValue) vs \(pb.nic.rawValue))" }
        if pa.storedTopology != pb.storedTopology {
            return "topologies differ (\(pa.storedTopology.rawValue) vs \(pb.storedTopology.rawValue))"
        }
        if pa.usesVIOMMU != pb.usesVIOMMU { return "one ran behind a virtual IOMMU, the other did not" }
        if pa.kernelArguments != pb.kernelArguments {
            return "kernel command lines differ ('\(pa.kernelArguments.joined(separator: " "))' vs '\(pb.kernelArguments.joined(separator: " "))')"
        }
        if let ha = a.0.environment?.hypervisor, let hb = b.0.environment?.hypervisor, ha != hb {
            return "hypervisors differ (\(ha) vs \(hb))"
        }
        if let wa = a.0.environment?.workload, let wb = b.0.environment?.workload, wa != wb {
            return "the workload \(pa.workload) was declared differently (modes, durations, arguments or metrics changed between the runs)"
        }
        let bootA = a.0.boots.first { $0.side == a.1 }, bootB = b.0.boots.first { $0.side == b.1 }
        guard let bootA, let bootB else { return "a kernel has no completed boot to compare" }
        if bootA.accelerator != bootB.accelerator { return "accelerators differ (\(bootA.accelerator.rawValue) vs \(bootB.accelerator.rawValue))" }
        if bootA.clock != bootB.clock { return "measurement clocks differ (\(bootA.clock.rawValue) vs \(bootB.clock.rawValue))" }
        // The throughput boots' size, which in virtual time is one vCPU unless --vcpus was given.
        let cpusA = pa.vcpus(throughput: true, clock: bootA.clock), cpusB = pb.vcpus(throughput: true, clock: bootB.clock)
        if pa.memoryMiB != pb.memoryMiB || cpusA != cpusB {
            return "guest sizes differ (\(pa.memoryMiB) MiB/\(cpusA) vCPUs vs \(pb.memoryMiB) MiB/\(cpusB) vCPUs)"
        }
        if bootA.kmemleak != bootB.kmemleak { return "kmemleak modes differ" }
        return nil
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async throws -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
