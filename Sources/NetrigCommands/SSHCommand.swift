import ArgumentParser
import Foundation
import GuestVM
import NetrigCore

/// `netrig ssh`: a shell (or one command) in a guest that `netrig run --keep` left running.
struct SSHCommand: NetrigCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssh",
        abstract: "Open a shell in a guest kept by 'netrig run --keep', list kept guests, or destroy them.",
        discussion: """
        Guests are named by side and purpose: baseline-throughput, patched-leaks, and with the pair topology \
        also baseline-throughput-peer. The last guest of each name stays; --destroy removes one, --destroy-all all.
        Examples: netrig ssh patched-throughput;  netrig ssh patched-leaks -- cat /sys/kernel/debug/kmemleak
        """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "List the kept guests that still run.")
    var list = false

    @Option(help: "Destroy this kept guest and forget it.")
    var destroy: String?

    @Flag(help: "Destroy every kept guest.")
    var destroyAll = false

    @Argument(help: "The guest's name (default: the only kept guest).")
    var name: String?

    @Argument(parsing: .postTerminator, help: "A command to run instead of a shell (after --).")
    var command: [String] = []

    func run(_ context: NetrigContext) async throws {
        let print = context.say(json: nil)
        let registry = KeptGuestRegistry(directory: context.directories.keptGuests)
        if destroyAll {
            for guest in registry.list() {
                await registry.destroy(name: guest.name)
                print("destroyed \(guest.name) (\(guest.domain))")
            }
            return
        }
        if let destroy {
            guard await registry.destroy(name: destroy) else { throw ValidationError("no kept guest '\(destroy)'") }
            print("destroyed \(destroy)")
            return
        }
        let running = try await registry.running()
        if list {
            if running.isEmpty { print("no kept guests (netrig run --keep leaves the last guests of a run running)") }
            for guest in running {
                print("\(guest.name)\t\(guest.domain)\tssh port \(guest.sshPort)\tconsole \(guest.consoleLog)")
            }
            return
        }
        let guest: KeptGuest
        if let name {
            guard let found = running.first(where: { $0.name == name }) else {
                throw ValidationError("no running kept guest '\(name)'; running: "
                                      + (running.isEmpty ? "none" : running.map(\.name).joined(separator: ", ")))
            }
            guest = found
        } else {
            guard running.count == 1 else {
                throw ValidationError(running.isEmpty ? "no kept guests run; start one with netrig run --keep"
                                      : "name one of: " + running.map(\.name).joined(separator: ", "))
            }
            guest = running[0]
        }
        let argv = guest.sshArguments(command: command)
        // Replace this process with OpenSSH, so the terminal, signals and the exit status are the guest's.
        let cArguments = argv.map { strdup($0) } + [nil]
        execvp("ssh", cArguments)
        throw ValidationError("cannot run ssh: \(String(cString: strerror(errno))) (install openssh-client)")
    }
}
