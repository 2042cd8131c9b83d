import ArgumentParser
import Foundation

/// The command tree. `netrig` with no subcommand shows help.
public struct Netrig: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "netrig",
        abstract: "Test Linux kernel patch series for the networking memory stack in QEMU guests.",
        subcommands: [RunCommand.self, RunsCommand.self, ShowCommand.self, CompareCommand.self, ReportCommand.self, BootCommand.self, SSHCommand.self, DoctorCommand.self])

    public init() {}

    /// Runs the command line and exits with the verdict's code: 0 pass, 2 the series broke something,
    /// 1 netrig could not decide (infrastructure).
    public static func entry() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitWithVerdict {
            Foundation.exit(exit.code)
        } catch {
            exit(withError: error)
        }
    }
}
