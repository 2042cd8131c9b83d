import ArgumentParser
import Foundation

/// The command tree. `netrig` with no subcommand shows help.
public struct Netrig: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "netrig",
        abstract: "Test Linux kernel patch series for the networking memory stack in QEMU guests.",
        subcommands: [RunCommand.self, RunsCommand.self, ShowCommand.self, GroupCommand.self, CompareCommand.self, ReportCommand.self, BootCommand.self, SSHCommand.self, DoctorCommand.self])

    public init() {}

    /// Runs the command line and exits with the verdict's code: 0 pass, 2 the series broke something,
    /// 1 netrig could not decide (infrastructure).
    public static func entry() async {
        // A peer that goes away (libvirtd killed, a guest's SSH server gone) must be an error on the write,
        // not a SIGPIPE that ends netrig before it can clean up and store the run: libvirt and libssh both
        // expect the application to ignore it.
        signal(SIGPIPE, SIG_IGN)
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
