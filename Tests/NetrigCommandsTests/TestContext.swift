import Foundation
import NetrigFakes
import Synchronization
import Testing
@testable import NetrigCommands
@testable import NetrigCore

/// What a command printed.
final class Printed: Sendable {
    private let text = Mutex((out: "", err: ""))
    var standardOutput: String { text.withLock { $0.out } }
    var standardError: String { text.withLock { $0.err } }
    func out(_ line: String) { text.withLock { $0.out += line } }
    func err(_ line: String) { text.withLock { $0.err += line } }
}

extension NetrigContext {
    /// A context in which every factory records an issue and fails: a test sets the ones its command may use,
    /// so a command that reaches for anything else fails the test (as swiftly's tests do).
    static func failing(printed: Printed = Printed()) -> NetrigContext {
        @Sendable func unmocked<T>(_ what: String) throws -> T {
            Issue.record("unmocked: \(what)")
            throw Unmocked(what: what)
        }
        return NetrigContext(
            layout: ProjectLayout(root: "/nonexistent"), directories: NetrigDirectories(environment: ["HOME": "/nonexistent"]),
            storePath: "/nonexistent/netrig.sqlite", libvirtURI: "test:///default", processorCount: 2, progress: SilentProgress(),
            standardOutput: { printed.out($0) }, standardError: { printed.err($0) }, commands: ScriptedCommandRunner(),
            openStore: { try unmocked("store") },
            kernel: { try unmocked("kernel pipeline") }, images: { try unmocked("images") }, probe: { try unmocked("accelerator probe") },
            launcher: { _ in try unmocked("guest launcher") }, hypervisor: { try unmocked("hypervisor") },
            workloads: { try unmocked("workload executor") }, collector: { try unmocked("collector") },
            workload: { _ in try unmocked("workload catalog") }, config: { _ in try unmocked("config catalog") },
            readSeries: { _ in try unmocked("series") },
            clock: { 0 }, timestamp: { "2026-12-01T00:00:00Z" }, isAlive: { _ in false })
    }
}

struct Unmocked: Error {
    var what: String
}
