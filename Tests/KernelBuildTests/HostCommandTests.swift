import Foundation
import HostCommands
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
}
