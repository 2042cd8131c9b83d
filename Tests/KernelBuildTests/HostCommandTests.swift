import Foundation
import HostCommands
import Logging
import Synchronization
import Testing

@Suite struct HostCommandTests {
    @Test func logsAppendAcrossCommands() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-log-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let runner = HostCommandRunner()
        #expect(try await runner.run(HostCommand("echo", ["first"]), logTo: log) == 0)
        #expect(try await runner.run(HostCommand("sh", ["-c", "echo second; exit 3"]), logTo: log) == 3)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("first\n"))
        #expect(text.contains("second\n"))
        #expect(text.contains("$ echo first"), "each command is logged as a reproducer line")
    }

    @Test func timeoutStopsTheChild() async throws {
        let start = ContinuousClock.now
        await #expect(throws: HostCommandRunner.Failure.self) {
            _ = try await HostCommandRunner().run(HostCommand("sleep", ["600"]), timeout: .milliseconds(300))
        }
        // Stopped by the timeout, not by sleep's end: far below 600 s even on a host loaded beside it.
        #expect(ContinuousClock.now - start < .seconds(120))
    }

    /// A command's own children stop with it (make's compilers, mmdebstrap's apt and dpkg): the whole
    /// process group is signalled, including a child that ignores SIGTERM (SIGKILL follows) and one that
    /// waits in the background, here while the command waits on a log pipe.
    @Test func cancellingACommandStopsEveryProcessItStarted() async throws {
        let (ignoring, plain) = ("sleep 7\(Int.random(in: 10000...99999))", "sleep 8\(Int.random(in: 10000...99999))")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-group-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let script = "sh -c 'trap \"\" TERM; exec \(ignoring)' & \(plain) & wait"
        await #expect(throws: HostCommandRunner.Failure.self) {
            _ = try await HostCommandRunner().run(HostCommand("sh", ["-c", script]), logTo: log, timeout: .seconds(1))
        }
        var left: [String] = []
        for _ in 0..<50 {
            let ps = try await HostCommandRunner().run(HostCommand("ps", ["-eo", "args"]))
            left = ps.standardOutput.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0 == ignoring || $0 == plain }
            if left.isEmpty { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(left.isEmpty, "no child of the cancelled command is left: \(left)")
    }

    @Test func argumentsAreNeverShellInterpreted() async throws {
        let result = try await HostCommandRunner().run(HostCommand("echo", ["$(id)", "a;b"]))
        #expect(result.standardOutput == "$(id) a;b\n")
    }

    /// --verbose: each command's reproducer, then its exit status and duration, at debug level; nothing at info.
    @Test func commandsAreLoggedAtDebugLevel() async throws {
        let handler = CapturingLogHandler()
        var logger = Logger(label: "test", factory: { _ in handler })
        logger.logLevel = .debug
        let echo = HostCommand("echo", ["hello", "two words"], environment: ["LC_ALL": "C"])
        _ = try await HostCommandRunner(logger: logger).run(echo)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-logged-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        _ = try await HostCommandRunner(logger: logger).run(HostCommand("sh", ["-c", "exit 3"]), logTo: log)

        let entries = handler.entries
        #expect(entries.first?.message == "$ env LC_ALL=C echo hello 'two words'")
        #expect(entries.allSatisfy { $0.level == .debug })
        #expect(entries.count == 4)
        #expect(entries[1].message.hasPrefix("echo: exit status 0 after ") && entries[1].message.hasSuffix(" s"), "\(entries[1].message)")
        #expect(entries[2].message == "$ sh -c 'exit 3' >> \(log)")
        #expect(entries[3].message.hasPrefix("sh: exit status 3 after "))

        logger.logLevel = .info
        _ = try await HostCommandRunner(logger: logger).run(echo)
        #expect(handler.entries.count == 4, "nothing is logged above debug")
    }
}

/// Keeps every log entry; its copies (a Logger holds one) share the entries.
struct CapturingLogHandler: LogHandler {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
    }

    private let store = Store()
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    var entries: [Entry] { store.entries.withLock { $0 } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.entries.withLock { $0.append(Entry(level: event.level, message: event.message.description)) }
    }

    private final class Store: Sendable {
        let entries = Mutex<[Entry]>([])
    }
}
