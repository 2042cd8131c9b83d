import ArgumentParser
import NetrigCore
import RunStore

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

struct CompareCommand: AsyncParsableCommand {
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

    func run() async throws {
        let say = HumanOutput(json: json)
        let store = try SQLiteRunStore(path: global.storePath)
        guard (1...2).contains(kernels.count) else { throw ValidationError("give one run, or two kernels") }
        let references = try kernels.map(KernelReference.init)
        let runs = try await references.asyncMap { reference -> StoredRun in
            guard let run = try await store.loadRun(reference.run) else {
                throw ValidationError("no run \(reference.run) in \(global.storePath)")
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
        // Relabel: the first kernel plays the baseline, the second the patched side.
        let samples = a.0.samples.filter { $0.side == a.1 }.map { var s = $0; s.side = .baseline; return s }
            + b.0.samples.filter { $0.side == b.1 }.map { var s = $0; s.side = .patched; return s }
        let leaks = a.0.leaks.filter { $0.side == a.1 }.map { var l = $0; l.side = .baseline; return l }
            + b.0.leaks.filter { $0.side == b.1 }.map { var l = $0; l.side = .patched; return l }
        let splats = a.0.splats.filter { $0.side == a.1 }.map { var s = $0; s.side = .baseline; return s }
            + b.0.splats.filter { $0.side == b.1 }.map { var s = $0; s.side = .patched; return s }
        var comparison = Comparison(samples: samples, leaks: leaks, splats: splats,
                                    patchedLeakRounds: max(1, b.0.leakRounds(b.1)),
                                    minimumEffect: (a.0.measurementClock ?? .virtual).minimumEffect, setting: b.0.measurementSetting)
        // What either kernel's boots could not check, under the side it plays here.
        comparison.unchecked = UncheckedCheck.summarize(
            [(a, Side.baseline), (b, Side.patched)].flatMap { pick, role in
                pick.0.boots.filter { $0.side == pick.1 }.flatMap { $0.uncheckedChecks(workload: pick.0.plan.workload) }.map { (side: role, check: $0) }
            })
        let labelA = "\(a.0.summary.id):\(a.1.rawValue)", labelB = "\(b.0.summary.id):\(b.1.rawValue)"
        say("comparing \(labelA) (\(a.0.summary.seriesTitle)) with \(labelB) (\(b.0.summary.seriesTitle))")
        say(ComparisonReport.table(comparison, baselineLabel: labelA, patchedLabel: labelB), terminator: "")
        let verdict: Verdict = comparison.seriesBrokeSomething ? .fail : (comparison.decidedEverything ? .pass : .inconclusive)
        say("verdict: \(verdict.rawValue): \(ComparisonReport.verdictMeaning(verdict, comparison: comparison))")
        if let json {
            try ReportWriter.write(RunReport(run: references.count == 1 ? a.0.summary.id : nil, verdict: verdict,
                                             findings: Finding.from(comparison, plan: b.0.plan), comparison: comparison,
                                             clock: a.0.measurementClock, phases: []), to: json)
        }
        if verdict != .pass { throw ExitWithVerdict(code: verdict.exitCode) }
    }

    /// Why two kernels' samples must not be compared, or nil when they may.
    static func incomparable(_ a: (StoredRun, Side), _ b: (StoredRun, Side)) -> String? {
        if a.0.summary.id == b.0.summary.id, a.1 == b.1 { return "that is the same kernel twice" }
        let pa = a.0.plan, pb = b.0.plan
        if pa.configName != pb.configName { return "configs differ (\(pa.configName) vs \(pb.configName))" }
        if pa.workload != pb.workload { return "workloads differ (\(pa.workload) vs \(pb.workload))" }
        if pa.nic != pb.nic { return "NICs differ (\(pa.nic.rawValue) vs \(pb.nic.rawValue))" }
        if (pa.topology ?? .loop) != (pb.topology ?? .loop) {
            return "topologies differ (\((pa.topology ?? .loop).rawValue) vs \((pb.topology ?? .loop).rawValue))"
        }
        if (pa.viommu ?? false) != (pb.viommu ?? false) { return "one ran behind a virtual IOMMU, the other did not" }
        if (pa.extraCommandLine ?? []) != (pb.extraCommandLine ?? []) {
            return "kernel command lines differ ('\((pa.extraCommandLine ?? []).joined(separator: " "))' vs '\((pb.extraCommandLine ?? []).joined(separator: " "))')"
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
