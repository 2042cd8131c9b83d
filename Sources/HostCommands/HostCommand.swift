import Foundation
import Logging
import NetrigCore
import Subprocess
import SystemPackage
import Synchronization

/// An external command as an argv array: never a shell string. Its `reproducer` is what a user can paste.
public struct HostCommand: Sendable, Equatable, CustomStringConvertible {
    public var executable: String
    public var arguments: [String]
    /// Variables added to (or overriding) the inherited environment.
    public var environment: [String: String]
    public var workingDirectory: String?

    public init(_ executable: String, _ arguments: [String] = [], environment: [String: String] = [:],
                workingDirectory: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// argv with the environment first (`env A=B make ...`), for reproducers stored with a run.
    public var argv: [String] {
        let env = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let cd = workingDirectory.map { ["-C", $0] } ?? []
        return (env.isEmpty && cd.isEmpty ? [] : ["env"] + cd + env) + [executable] + arguments
    }

    public var description: String { ShellQuote.join(argv) }
}

/// What a finished command produced.
public struct HostCommandResult: Sendable {
    public var command: HostCommand
    public var exitStatus: Int32
    public var standardOutput: String
    public var standardError: String
    public var succeeded: Bool { exitStatus == 0 }

    public init(command: HostCommand, exitStatus: Int32, standardOutput: String, standardError: String) {
        self.command = command
        self.exitStatus = exitStatus
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// How much of each stream `run` collects unless told otherwise.
    public static let defaultLimit = 16 << 20
}

/// Runs host commands. A command and every process it started get SIGTERM, then SIGKILL 5 s later, when
/// the calling task is cancelled or the timeout passes. Each command is logged at debug level: its
/// reproducer before it starts, then its exit status (or error) and how long it took.
public struct HostCommandRunner: CommandRunner {
    public var logger: Logger

    /// `logger`: where commands are logged (at debug); by default the process's handler under
    /// `netrig.host-commands`, which prints them only with `--verbose`.
    public init(logger: Logger? = nil) {
        self.logger = logger ?? Logger(label: "netrig.host-commands")
    }

    public struct Failure: Error, CustomStringConvertible {
        public var command: HostCommand
        public var reason: String
        public var description: String { "\(command.executable): \(reason) (\(command))" }
    }

    /// Runs to completion and collects output (at most `limit` bytes per stream).
    public func run(_ command: HostCommand, timeout: Duration?, input: String?, limit: Int) async throws -> HostCommandResult {
        let configuration = makeConfiguration(command)
        return try await logged(command, status: \.exitStatus) {
            try await withTimeout(timeout, command: command) {
                let group = ProcessGroup()
                let result: ExecutionRecord = try await group.reapingOnFailure {
                    if let input {
                        try await Subprocess.run(configuration, input: .string(input), output: .string(limit: limit),
                                                 error: .string(limit: limit)) { group.started($0.processIdentifier) }.record
                    } else {
                        try await Subprocess.run(configuration, input: .none, output: .string(limit: limit),
                                                 error: .string(limit: limit)) { group.started($0.processIdentifier) }.record
                    }
                }
                return HostCommandResult(command: command, exitStatus: result.status, standardOutput: result.out,
                                         standardError: result.err)
            }
        }
    }

    /// Runs with standard output and error appended to `logPath`, calling `onLine` for every line of
    /// output (for live progress). The log is never held in memory.
    public func run(_ command: HostCommand, logTo logPath: String, timeout: Duration?,
                    onLine: @escaping @Sendable (String) -> Void) async throws -> Int32 {
        let configuration = makeConfiguration(command)
        // Appends: one log collects every command of a build.
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        guard let log = FileHandle(forWritingAtPath: logPath) else {
            throw Failure(command: command, reason: "cannot write log \(logPath)")
        }
        defer { try? log.close() }
        try log.seekToEnd()
        log.write(Data("$ \(command)\n".utf8))
        let sink = LogSink(handle: log)
        return try await logged(command, log: logPath, status: { $0 }) {
            try await withTimeout(timeout, command: command) {
                let group = ProcessGroup()
                return try await group.reapingOnFailure {
                    let result = try await Subprocess.run(configuration, input: .none, output: .sequence,
                                                          error: .combinedWithOutput) { execution in
                        group.started(execution.processIdentifier)
                        for try await line in execution.standardOutput.strings(bufferingPolicy: .maxLineLength(1 << 16)) {
                            sink.write(line)
                            onLine(line.hasSuffix("\n") ? String(line.dropLast()) : line)
                        }
                    }
                    return result.terminationStatus.code
                }
            }
        }
    }

    /// Logs the command before it runs (with the file its output goes to), and its exit status or error
    /// with the time it took after.
    private func logged<T>(_ command: HostCommand, log: String? = nil, status: (T) -> Int32,
                           _ body: () async throws -> T) async throws -> T {
        logger.debug("$ \(command)\(log.map { " >> \($0)" } ?? "")")
        let start = ContinuousClock.now
        func seconds() -> String {
            let elapsed = (ContinuousClock.now - start).components
            return String(format: "%.3f s", Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        }
        do {
            let value = try await body()
            logger.debug("\(command.executable): exit status \(status(value)) after \(seconds())")
            return value
        } catch {
            logger.debug("\(command.executable): \(error) after \(seconds())")
            throw error
        }
    }

    private func makeConfiguration(_ command: HostCommand) -> Configuration {
        var updates: [Environment.Key: String?] = [:]
        for (key, value) in command.environment { updates[Environment.Key(stringLiteral: key)] = value }
        let executable: Executable = command.executable.contains("/")
            ? .path(FilePath(command.executable)) : .name(command.executable)
        // Each command leads a process group of its own, and teardown signals the whole group: make's
        // compilers, mmdebstrap's apt and dpkg, git's helpers stop with the command instead of running on
        // (mmdebstrap ignores SIGTERM while it waits for apt, so signalling it alone meant SIGKILL after
        // the grace period while the processes it had forked ran on in the half-built root). Commands
        // never read the terminal (standard input is /dev/null), so leaving the terminal's process group
        // costs nothing; Ctrl-C reaches them through netrig's cancellation.
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(5))]
        return Configuration(executable: executable, arguments: Arguments(command.arguments),
                             environment: .inherit.updating(updates),
                             workingDirectory: command.workingDirectory.map { FilePath($0) },
                             platformOptions: options)
    }

    private func withTimeout<T: Sendable>(_ timeout: Duration?, command: HostCommand,
                                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let timeout else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw Failure(command: command, reason: "timed out after \(timeout)")
            }
            return value
        }
    }
}

/// Appends lines to a log file from the output loop.
private final class LogSink: Sendable {
    let handle: Mutex<FileHandle>
    init(handle: FileHandle) { self.handle = Mutex(handle) }
    func write(_ line: String) {
        let text = line.hasSuffix("\n") ? line : line + "\n"
        handle.withLock { $0.write(Data(text.utf8)) }
    }
}

/// The process group a command leads (its pid, see `processGroupID = 0`). swift-subprocess's teardown
/// stops once the command itself has exited, so a child that outlived SIGTERM (one that ignores it, or a
/// helper the command was waiting for) would run on: when the command is cancelled, times out or fails to
/// run, whatever is left of its group gets SIGKILL.
private final class ProcessGroup: Sendable {
    let leader = Mutex<pid_t?>(nil)

    func started(_ identifier: ProcessIdentifier) {
        leader.withLock { $0 = identifier.value }
    }

    func reapingOnFailure<T>(_ body: () async throws -> T) async throws -> T {
        do {
            let value = try await body()
            if Task.isCancelled { killRemaining() }
            return value
        } catch {
            killRemaining()
            throw error
        }
    }

    func killRemaining() {
        guard let pid = leader.withLock({ $0 }), pid > 1 else { return }
        kill(-pid, SIGKILL)
    }
}

private struct ExecutionRecord {
    var status: Int32
    var out: String
    var err: String
}

extension ExecutionResult where ClosureResult == Void, Output == StringOutput<UTF8>, Error == StringOutput<UTF8> {
    fileprivate var record: ExecutionRecord {
        ExecutionRecord(status: terminationStatus.code, out: standardOutput, err: standardError)
    }
}

extension TerminationStatus {
    /// Exit code, or 128 + signal number as shells report it.
    public var code: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}
