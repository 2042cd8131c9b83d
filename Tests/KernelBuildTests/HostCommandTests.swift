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
            _ = try await HostCommandRunner().run(HostCommand("sleep", ["30"]), timeout: .milliseconds(300))
        }
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func argumentsAreNeverShellInterpreted() async throws {
        let result = try await HostCommandRunner().run(HostCommand("echo", ["$(id)", "a;b"]))
        #expect(result.standardOutput == "$(id) a;b\n")
    }
}
