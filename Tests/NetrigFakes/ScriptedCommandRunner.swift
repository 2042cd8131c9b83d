import Foundation
import HostCommands
import Synchronization
import Testing

/// A `CommandRunner` for unit tests: it answers each command from a script, by executable and argument
/// prefix, and records every call. A command the script does not answer fails the test (`Issue.record`)
/// and throws, so a test never reaches the host by accident: a test that says "no make" scripts no make.
///
/// The rule with the longest matching prefix answers; among equally long ones, the one added last.
/// `passThrough` lets a cheap, deterministic host program (sha256sum) really run.
public final class ScriptedCommandRunner: CommandRunner {
    /// What a scripted command does: its exit status and output. For a command run with a log, the
    /// output is appended to the log and passed line by line to the caller's `onLine`.
    public struct Reply: Sendable {
        public var exitStatus: Int32
        public var standardOutput: String
        public var standardError: String

        public init(exitStatus: Int32 = 0, standardOutput: String = "", standardError: String = "") {
            self.exitStatus = exitStatus
            self.standardOutput = standardOutput
            self.standardError = standardError
        }

        public static let success = Reply()
        public static func output(_ text: String) -> Reply { Reply(standardOutput: text) }
        public static func failure(_ status: Int32 = 1, standardError: String = "") -> Reply {
            Reply(exitStatus: status, standardError: standardError)
        }
    }

    /// Computes the reply, and may act as the real program would (write the files it writes).
    public typealias Handler = @Sendable (HostCommand) throws -> Reply

    /// A command the script does not answer.
    public struct Unscripted: Error, CustomStringConvertible {
        public var command: HostCommand
        public var description: String { "unscripted host command: \(command)" }
    }

    private enum Action: Sendable {
        case scripted(Handler)
        case passThrough
    }

    private struct Rule: Sendable {
        var executable: String
        var prefix: [String]
        var action: Action
    }

    private struct State {
        var rules: [Rule] = []
        var calls: [HostCommand] = []
    }

    private let state = Mutex(State())
    private let host = HostCommandRunner()

    public init() {}

    /// Answers `executable` with arguments starting with `prefix` by `handler`.
    public func on(_ executable: String, _ prefix: [String] = [], _ handler: @escaping Handler) {
        state.withLock { $0.rules.append(Rule(executable: executable, prefix: prefix, action: .scripted(handler))) }
    }

    /// Answers `executable` with arguments starting with `prefix` by `reply`.
    public func on(_ executable: String, _ prefix: [String] = [], reply: Reply) {
        on(executable, prefix) { _ in reply }
    }

    /// Runs `executable` (with arguments starting with `prefix`) on the host, for real.
    public func passThrough(_ executable: String, _ prefix: [String] = []) {
        state.withLock { $0.rules.append(Rule(executable: executable, prefix: prefix, action: .passThrough)) }
    }

    /// Every command run so far, in order.
    public var calls: [HostCommand] { state.withLock { $0.calls } }

    /// The commands run so far of one executable (and argument prefix).
    public func calls(to executable: String, _ prefix: [String] = []) -> [HostCommand] {
        calls.filter { $0.executable == executable && $0.arguments.starts(with: prefix) }
    }

    private func action(for command: HostCommand) -> Action? {
        state.withLock { state in
            state.calls.append(command)
            let matching = state.rules.enumerated().filter { $0.element.executable == command.executable
                && command.arguments.starts(with: $0.element.prefix) }
            return matching.max { ($0.element.prefix.count, $0.offset) < ($1.element.prefix.count, $1.offset) }?.element.action
        }
    }

    private func unscripted(_ command: HostCommand) -> Unscripted {
        Issue.record("unscripted host command: \(command)")
        return Unscripted(command: command)
    }

    public func run(_ command: HostCommand, timeout: Duration?, input: String?, limit: Int) async throws -> HostCommandResult {
        switch action(for: command) {
        case .scripted(let handler)?:
            let reply = try handler(command)
            return HostCommandResult(command: command, exitStatus: reply.exitStatus, standardOutput: reply.standardOutput,
                                     standardError: reply.standardError)
        case .passThrough?:
            return try await host.run(command, timeout: timeout, input: input, limit: limit)
        case nil:
            throw unscripted(command)
        }
    }

    public func run(_ command: HostCommand, logTo logPath: String, timeout: Duration?,
                    onLine: @escaping @Sendable (String) -> Void) async throws -> Int32 {
        switch action(for: command) {
        case .scripted(let handler)?:
            let reply = try handler(command)
            let output = reply.standardOutput + reply.standardError
            let fm = FileManager.default
            if !fm.fileExists(atPath: logPath) { _ = fm.createFile(atPath: logPath, contents: nil) }
            if let log = FileHandle(forWritingAtPath: logPath) {
                defer { try? log.close() }
                _ = try? log.seekToEnd()
                log.write(Data(("$ \(command)\n" + output).utf8))
            }
            var lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.last == "" { lines.removeLast() }
            for line in lines { onLine(String(line)) }
            return reply.exitStatus
        case .passThrough?:
            return try await host.run(command, logTo: logPath, timeout: timeout, onLine: onLine)
        case nil:
            throw unscripted(command)
        }
    }
}
