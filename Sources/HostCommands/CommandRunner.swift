/// What runs host commands: `HostCommandRunner` on the host, a scripted fake in tests (NetrigFakes'
/// `ScriptedCommandRunner`), so an adapter's decisions can be tested without the programs it calls.
/// The two requirements take every parameter; the defaulted forms callers use are in the extension.
public protocol CommandRunner: Sendable {
    /// Runs to completion and collects output (at most `limit` bytes per stream).
    func run(_ command: HostCommand, timeout: Duration?, input: String?, limit: Int) async throws -> HostCommandResult

    /// Runs with standard output and error appended to `logPath`, calling `onLine` for every line of
    /// output (for live progress); returns the exit status.
    func run(_ command: HostCommand, logTo logPath: String, timeout: Duration?,
             onLine: @escaping @Sendable (String) -> Void) async throws -> Int32
}

extension CommandRunner {
    public func run(_ command: HostCommand, timeout: Duration? = nil, input: String? = nil) async throws -> HostCommandResult {
        try await run(command, timeout: timeout, input: input, limit: HostCommandResult.defaultLimit)
    }

    public func run(_ command: HostCommand, logTo logPath: String, timeout: Duration? = nil) async throws -> Int32 {
        try await run(command, logTo: logPath, timeout: timeout, onLine: { _ in })
    }

    public func run(_ command: HostCommand, logTo logPath: String,
                    onLine: @escaping @Sendable (String) -> Void) async throws -> Int32 {
        try await run(command, logTo: logPath, timeout: nil, onLine: onLine)
    }
}
