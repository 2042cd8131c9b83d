import ArgumentParser
import Foundation
import GuestVM
import NetrigCore
import Workloads

/// `netrig boot`: a kernel in netrig's guest, with its NICs wired, to look around, run one command, keep it
/// for `netrig ssh`, or time the boot (bench/boot-time).
struct BootCommand: NetrigCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot",
        abstract: "Boot a kernel in netrig's guest with its NICs wired; run a command, keep it, or time the boot.",
        discussion: """
        Examples: netrig boot --kernel arch/x86/boot/bzImage --nics vmxnet3 -- ethtool -i nr0
                  netrig boot --kernel bzImage --topology pair --keep;  netrig ssh boot
                  netrig boot --kernel bzImage --count 5        (boot times: init, SSH ready, their ratio)
        """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "The kernel image (bzImage) to boot; its NIC drivers must be built in (the guest loads no modules).")
    var kernel: String

    @OptionGroup var guest: GuestOptions

    @Option(help: "real, or virtual (QEMU icount, TCG only: the clock throughput is measured in by default under TCG).")
    var clock: String = MeasurementClock.real.rawValue

    @Option(help: "Boot this many times one after the other and print each boot's times.")
    var count: Int = 1

    @Flag(help: "Leave the guest(s) running (names: boot, boot-peer) for netrig ssh.")
    var keep = false

    @Argument(parsing: .postTerminator, help: "A command to run in the (first) guest after the NICs are wired (after --).")
    var command: [String] = []

    func run(_ context: NetrigContext) async throws {
        let progress = context.progress
        guard FileManager.default.fileExists(atPath: kernel) else { throw ValidationError("--kernel \(kernel): no such file") }
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        let topologyChoice = try guest.topologyChoice() ?? .loop
        guard let clockChoice = MeasurementClock(rawValue: clock) else { throw ValidationError("--clock must be real or virtual") }
        let models = try guest.nicModels()
        if let local = models.first(where: { !$0.topologies.contains(topologyChoice) }) {
            throw ValidationError("\(local.rawValue) devices live inside one kernel: use --topology loop")
        }
        let extraArguments = try guest.extraCommandLine()
        let links = models.enumerated().map { NetworkLink(model: $1, topology: topologyChoice, index: $0) }
        let policy = try MachinePolicy.given(accelerator: try guest.accelerator(), clock: clockChoice)
        let launcher = try context.launcher(keep)
        let missing = await launcher.unsupportedNICs(models)
        if let (model, reason) = missing.first { throw ValidationError("\(model.rawValue) is unsupported here: \(reason)") }
        let image = try await context.images().prepareImage(progress: progress)
        let probe = try context.probe()
        // The run's machine rules: the probe (when asked) boots this kernel, and a KVM guest that does not
        // run turns the rest to TCG, correcting the host's answer.
        let machine = await MachineChoice.choose(policy, fallbackClock: clockChoice) { await probe.probe(kernel: kernel) }
        progress.note("accelerator: \(await machine.description)")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-boot-\(getpid())").path
        defer { if !keep { try? FileManager.default.removeItem(atPath: scratch) } }
        var status: Int32 = 0
        var number = 1
        while number <= count {
            let (accelerator, clock) = await machine.current
            let specs = (0..<topologyChoice.guestCount).map { end in
                GuestSpec(name: end == 0 ? "boot" : "boot-peer", kernelImage: kernel, rootImage: image,
                          extraCommandLine: extraArguments, memoryMiB: guest.memory, vcpus: guest.bootVCPUs,
                          links: links, end: end, viommu: guest.viommu, accelerator: accelerator, clock: clock,
                          workDirectory: scratch + "/\(number)-\(end)", bootTimeout: .seconds(guest.bootTimeout),
                          blameForKernel: .usage,
                          silentConsoleTimeout: accelerator == .kvm ? RunEngine.silentConsoleTimeout : nil)
            }
            do {
                status = try await boot(specs, launcher: launcher, machine: machine, links: links, topology: topologyChoice,
                                        number: number, progress: progress, say: context.say(json: nil))
            } catch let error as NetrigError where error.code.isKVMFailure {
                let (reason, correction) = MachineChoice.kvmFailure(error, of: "netrig boot", silentFor: RunEngine.silentConsoleTimeout)
                guard case .switched = await machine.fallBack(from: accelerator, reason: reason) else { throw error }
                progress.note("accelerator: \(reason): booting again under TCG (the host's answer is corrected)")
                await probe.correct(correction)
                continue
            }
            number += 1
        }
        if status != 0 { throw ExitCode(status) }
    }

    private func boot(_ specs: [GuestSpec], launcher: any GuestLauncher, machine: MachineChoice, links: [NetworkLink],
                      topology topologyChoice: Topology, number boot: Int, progress: any ProgressObserver, say: HumanOutput) async throws -> Int32 {
        try await SignalCancellation.run { [command] in
            try await launcher.withGuests(specs) { guests in
                await machine.booted()
                let first = guests[0]
                let ratio = first.initSeconds.map { String(format: " (%.2fx)", first.bootSeconds / $0) } ?? ""
                say(String(format: "boot %d: init %@, ssh ready %.2f s%@", boot,
                             first.initSeconds.map { String(format: "%.2f s", $0) } ?? "not seen", first.bootSeconds, ratio))
                for link in links {
                    progress.status("wiring \(link.label)")
                    _ = try await LinkSetup.wire(link, on: guests)
                    progress.note("\(link.label): \(link.localInterface) \(link.localAddress) <-> \(link.peerAddress) \(link.peerInterface)"
                                  + (topologyChoice == .loop ? " in namespace \(link.peerNamespace)" : " on boot-peer"))
                }
                guard !command.isEmpty else { return 0 }
                let output = try await first.run(command, timeout: .seconds(3600))
                say(output.standardOutput, terminator: "")
                FileHandle.standardError.write(Data(output.standardError.utf8))
                return output.exitStatus
            }
        }
    }
}
