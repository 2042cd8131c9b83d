import Foundation
import NetrigFakes
@testable import NetrigCommands
@testable import NetrigCore

enum Fixtures {
    static let series = Series(title: "page_pool: test series", revision: 1, baseCommit: nil,
                               patches: [Patch(index: 1, total: 1, subject: "s", author: "a", mail: "", diffHash: "h")], source: "x.mbox")
    static let workload = WorkloadDefinition(name: "w", summary: "", topologies: [.loop, .pair], nics: [.virtioNet, .netdevsim], requiredSymbols: [],
                                             programs: [GuestProgram(name: "p", sources: ["p.c"])], duration: 1, timeout: .seconds(5),
                                             server: [], client: ["p"], modes: [WorkloadMode(name: "m", clientArguments: [])],
                                             metrics: [], unsupported: [])
    static let leak = Leak(side: .patched, size: 128, comm: "ip", backtrace: ["page_pool_create+0x1/0x2"], fingerprint: "page_pool_create",
                           raw: "unreferenced object 0xffff (size 128):")

    /// A scratch directory for a store's pages and a JSON report.
    static func directory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-commands-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The failing context with the fakes a run needs: the engine's ports, the store, the series and workload.
    static func runContext(store: InMemoryRunStore, directory: String, printed: Printed, collector: FakeCollector = FakeCollector(leaks: [:]),
                           launcher: FakeLauncher = FakeLauncher(), probe: FakeProbe = FakeProbe()) -> NetrigContext {
        var context = NetrigContext.failing(printed: printed)
        context.storePath = directory + "/netrig.sqlite"
        context.openStore = { store }
        context.kernel = { FakeKernel() }
        context.images = { FakeImages() }
        context.probe = { KeptProbe(inner: probe) }
        context.launcher = { _ in launcher }
        context.workloads = { FakeWorkloads() }
        context.collector = { collector }
        context.readSeries = { _ in series }
        context.workload = { name in
            guard name == workload.name else { throw NetrigError(phase: .configure, blame: .usage, subject: "--workload \(name)", message: "no such workload") }
            return workload
        }
        context.config = { name in KernelConfigSpec(name: name, base: "tinyconfig", fragments: []) }
        return context
    }

    /// Runs a parsed command and returns the exit code it ends with (0 when it returns).
    static func exitCode(_ body: () async throws -> Void) async throws -> Int32 {
        do {
            try await body()
            return 0
        } catch let exit as ExitWithVerdict {
            return exit.code
        }
    }

    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
    }
}

/// A kept probe over a fake one: it keeps nothing, and counts its probes.
struct KeptProbe: KeptAcceleratorProbe {
    var inner: FakeProbe
    let probes = FakeProbe.Corrections()
    func probe(kernel: String?) async -> AcceleratorAnswer {
        probes.answers.withLock { $0.append(inner.answer) }
        return inner.answer
    }
    func correct(_ answer: AcceleratorAnswer) async { await inner.correct(answer) }
    func refresh(kernel: String?) async -> AcceleratorAnswer { await probe(kernel: kernel) }
    func keptAnswer() -> AcceleratorAnswer? { nil }
}
