import Foundation
import HostCommands
import NetrigCore

/// git as argv commands on one repository or worktree.
struct Git: Sendable {
    var directory: String
    var runner = HostCommandRunner()

    /// Identity for commits netrig makes (imports, `git am`); the patch's author is kept by `git am`.
    static let identity = [
        "GIT_COMMITTER_NAME": "netrig", "GIT_COMMITTER_EMAIL": "netrig@localhost",
        "GIT_AUTHOR_NAME": "netrig", "GIT_AUTHOR_EMAIL": "netrig@localhost",
    ]

    func command(_ arguments: [String]) -> HostCommand {
        HostCommand("git", ["-C", directory] + arguments, environment: Git.identity)
    }

    /// Runs git and returns its trimmed standard output; throws with git's own message on failure.
    @discardableResult
    func run(_ arguments: [String], phase: Phase, input: String? = nil) async throws -> String {
        let result = try await runner.run(command(arguments), input: input)
        guard result.succeeded else {
            throw NetrigError(phase: phase, blame: .infrastructure, subject: directory,
                              message: "git \(arguments.first ?? "") failed",
                              details: (result.standardError + result.standardOutput).lastLines(8))
        }
        return result.standardOutput.trimmingWhitespace
    }

    func tryRun(_ arguments: [String], input: String? = nil) async throws -> HostCommandResult {
        try await runner.run(command(arguments), input: input)
    }
}
