import Foundation
import HostCommands
import NetrigCore

/// git as argv commands on one repository or worktree.
struct Git: Sendable {
    var directory: String
    var runner: any CommandRunner = HostCommandRunner()

    /// Identity for commits netrig makes (imports, `git am`); the patch's author is kept by `git am`.
    /// Its dates are fixed too, so the same import or the same patches on the same base make the same
    /// commits on every machine: a series written with `git format-patch --base` on one machine names a
    /// base that exists on the next.
    static let identity = [
        "GIT_COMMITTER_NAME": "netrig", "GIT_COMMITTER_EMAIL": "netrig@localhost",
        "GIT_AUTHOR_NAME": "netrig", "GIT_AUTHOR_EMAIL": "netrig@localhost",
        "GIT_COMMITTER_DATE": fixedDate,
    ]

    /// The date of every commit netrig makes (`git am` keeps each patch's author date).
    static let fixedDate = "2000-01-01T00:00:00Z"

    func command(_ arguments: [String], environment: [String: String] = [:]) -> HostCommand {
        HostCommand("git", ["-C", directory] + arguments, environment: Git.identity.merging(environment) { $1 })
    }

    /// Runs git and returns its trimmed standard output; throws with git's own message on failure.
    @discardableResult
    func run(_ arguments: [String], input: String? = nil, environment: [String: String] = [:]) async throws -> String {
        let result = try await runner.run(command(arguments, environment: environment), input: input)
        guard result.succeeded else {
            throw NetrigError(blame: .infrastructure, subject: directory,
                              message: "git \(arguments.first ?? "") failed",
                              details: (result.standardError + result.standardOutput).lastLines(8))
        }
        return result.standardOutput.trimmingWhitespace
    }

    func tryRun(_ arguments: [String], input: String? = nil) async throws -> HostCommandResult {
        try await runner.run(command(arguments), input: input)
    }
}
