import Foundation
import Libvirt
import NetrigCore
import NetrigTestSupport
import Testing
@testable import GuestVM
@testable import Workloads

/// Real kernels booted by real libvirt and QEMU, reached over real SSH.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct RealGuestTests {
    let fixtures = HostFixtures.shared

    func spec(_ name: String, extra: [String] = [], nic: NICModel = .virtioNet, timeout: Duration = .seconds(180)) async throws -> GuestSpec {
        try await fixtures.guestSpec(name, extra: extra, links: [NetworkLink(model: nic, topology: .loop)], timeout: timeout)
    }

    @Test func bootsToSSHAndLeavesNothingBehind() async throws {
        let spec = try await spec("boot")
        defer { try? FileManager.default.removeItem(atPath: spec.workDirectory) }
        let launcher = LibvirtGuestLauncher(uri: fixtures.libvirtURI, privateKey: fixtures.directories.sshKey)
        let (release, udmabuf, drivers) = try await launcher.withGuest(spec) { guest in
            let release = try await guest.run(["uname", "-r"], timeout: .seconds(30)).standardOutput.trimmingWhitespace
            let udmabuf = try await guest.run(["test", "-c", "/dev/udmabuf"], timeout: .seconds(30)).exitStatus
            let drivers = try await guest.runScript("for d in /sys/class/net/eth*; do basename $(readlink $d/device/driver); done", timeout: .seconds(30))
            // A command killed by a signal (as the kernel kills a task that oopses) says which, over SSH.
            let killed = try await guest.run(["sh", "-c", "kill -KILL $$"], timeout: .seconds(30))
            #expect(killed.exitSignal == "KILL" && killed.ending == "was killed by signal KILL", "\(killed)")
            let exited = try await guest.run(["sh", "-c", "exit 3"], timeout: .seconds(30))
            #expect(exited.exitSignal == nil && exited.exitStatus == 3)
            #expect(guest.bootSeconds > 0)
            let initSeconds = try #require(guest.initSeconds, "init's first console line was seen")
            #expect(initSeconds > 0 && initSeconds < guest.bootSeconds)
            return (release, udmabuf, drivers.standardOutput)
        }
        #expect(release.hasPrefix("6.12"))
        #expect(udmabuf == 0, "/dev/udmabuf exists in the guest")
        #expect(drivers.split(separator: "\n") == ["virtio_net", "virtio_net"])
        let console = try String(contentsOfFile: spec.workDirectory + "/console.log", encoding: .utf8)
        #expect(console.contains("netrig: ssh ready"))
        #expect(!FileManager.default.fileExists(atPath: spec.workDirectory + "/disk.qcow2"), "the disk overlay is removed")
        let connection = try await LibvirtConnection(uri: fixtures.libvirtURI)
        let active = try await connection.activeDomainNames()
        await connection.close()
        #expect(!active.contains { $0.hasPrefix("netrig-boot-\(getpid())") }, "the domain is destroyed")
    }

    @Test func panicAtBootIsReportedWithTheConsole() async throws {
        // init=/bin/false makes PID 1 exit at once: "Kernel panic - not syncing: Attempted to kill init!"
        let spec = try await spec("panic", extra: ["init=/bin/false"], timeout: .seconds(120))
        defer { try? FileManager.default.removeItem(atPath: spec.workDirectory) }
        let launcher = LibvirtGuestLauncher(uri: fixtures.libvirtURI, privateKey: fixtures.directories.sshKey)
        do {
            _ = try await launcher.withGuest(spec) { _ in Issue.record("a guest whose init exits reached SSH") }
        } catch let error as NetrigError {
            #expect(error.message == "the kernel panicked during boot")
            #expect(error.subject == "guest panic")
            #expect(error.blame == .series)
            #expect(error.details.contains { $0.contains("Kernel panic - not syncing") })
        }
        let connection = try await LibvirtConnection(uri: fixtures.libvirtURI)
        let active = try await connection.activeDomainNames()
        await connection.close()
        #expect(!active.contains { $0.hasPrefix("netrig-panic-\(getpid())") })
    }

    @Test func aKernelThatHangsBeforeSSHTimesOutWithTheConsole() async throws {
        // init=/bin/sleep never starts the SSH server: the wait ends at the boot timeout, not before.
        let spec = try await spec("hang", extra: ["init=/bin/sleep", "1000"], timeout: .seconds(15))
        defer { try? FileManager.default.removeItem(atPath: spec.workDirectory) }
        let launcher = LibvirtGuestLauncher(uri: fixtures.libvirtURI, privateKey: fixtures.directories.sshKey)
        let start = ContinuousClock.now
        await #expect { try await launcher.withGuest(spec) { _ in Issue.record("a guest without an SSH server answered") } } throws: {
            let error = $0 as? NetrigError
            return error?.message == "no SSH within 15.0 seconds: the kernel hung before init finished"
                && error?.subject == "guest hang" && error?.details.first == "console: \(spec.workDirectory)/console.log"
        }
        #expect(ContinuousClock.now - start < .seconds(40))
        #expect(!FileManager.default.fileExists(atPath: spec.workDirectory + "/disk.qcow2"), "the overlay is removed")
        let connection = try await LibvirtConnection(uri: fixtures.libvirtURI)
        let active = try await connection.activeDomainNames()
        await connection.close()
        #expect(!active.contains { $0.hasPrefix("netrig-hang-\(getpid())") }, "the hung domain is destroyed")
    }

    @Test func aFileThatIsNoKernelIsReportedByTheHypervisor() async throws {
        var spec = try await spec("nokernel")
        defer { try? FileManager.default.removeItem(atPath: spec.workDirectory) }
        spec.kernelImage = spec.workDirectory + "/not-a-kernel"
        try "just text\n".write(toFile: spec.kernelImage, atomically: true, encoding: .utf8)
        let launcher = LibvirtGuestLauncher(uri: fixtures.libvirtURI, privateKey: fixtures.directories.sshKey)
        await #expect { try await launcher.withGuest(spec) { _ in Issue.record("a text file booted") } } throws: {
            let error = $0 as? NetrigError
            return error?.subject == "guest nokernel" && error?.blame == .infrastructure
                && (error?.message.hasPrefix("libvirt could not start the domain") ?? false)
                && (error?.message.contains("kernel") ?? false)
        }
        #expect(!FileManager.default.fileExists(atPath: spec.workDirectory + "/disk.qcow2"))
    }

    @Test func acceleratorProbeDecidesWithARealKernel() async throws {
        let kernel = try await fixtures.defaultKernel()
        let start = ContinuousClock.now
        let result = await QEMUAcceleratorProbe(timeout: .seconds(6)).probe(kernel: kernel.kernelImage)
        #expect(ContinuousClock.now - start < .seconds(15), "the probe gives up quickly when KVM hangs")
        #expect(!result.reason.isEmpty)

        // Through the cache, with this host's real boot ID: probed once, then answered from the file.
        let file = fixtures.scratchDirectory("probe") + "/accelerator-probe.json"
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        let cached = CachedAcceleratorProbe(inner: QEMUAcceleratorProbe(timeout: .seconds(6)), file: file)
        let probed = await cached.probe(kernel: kernel.kernelImage)
        #expect(probed.accelerator == result.accelerator && FileManager.default.fileExists(atPath: file))
        let again = await cached.probe(kernel: kernel.kernelImage)
        #expect(again.accelerator == result.accelerator && again.reason.contains("decided at"), "\(again.reason)")
        #expect(result.accelerator != nil, "a real kernel decides")

        // Without a kernel only the firmware runs, which proves nothing: never KVM, and never kept.
        let firmware = fixtures.scratchDirectory("probe-firmware") + "/accelerator-probe.json"
        defer { try? FileManager.default.removeItem(atPath: (firmware as NSString).deletingLastPathComponent) }
        let bare = await CachedAcceleratorProbe(inner: QEMUAcceleratorProbe(timeout: .seconds(6)), file: firmware).refresh(kernel: nil)
        #expect(bare.accelerator != .kvm, "\(bare.reason)")
        #expect(bare.accelerator != nil || !FileManager.default.fileExists(atPath: firmware), "an undecided answer is not kept")
    }

    @Test func msgZerocopyRunsAcrossAPairOfGuests() async throws {
        let link = NetworkLink(model: .vmxnet3, topology: .pair)
        let specs = try await [fixtures.guestSpec("pair-a", links: [link]), fixtures.guestSpec("pair-b", links: [link], end: 1)]
        defer { specs.forEach { try? FileManager.default.removeItem(atPath: $0.workDirectory) } }
        let kernel = try await fixtures.defaultKernel()
        let workload = try WorkloadCatalog(directory: fixtures.repository + "/workloads").load("msg_zerocopy")
        let launcher = LibvirtGuestLauncher(uri: fixtures.libvirtURI, privateKey: fixtures.directories.sshKey)
        let outcome = try await launcher.withGuests(specs) { guests in
            for guest in guests { try await guest.upload(kernel.programs["msg_zerocopy"]!, to: "/root/netrig/msg_zerocopy", mode: 0o755) }
            return try await GuestWorkloadRunner().run(workload, side: .baseline, link: link,
                                                       programs: ["msg_zerocopy": "/root/netrig/msg_zerocopy"],
                                                       repetitions: 1, on: guests)
        }
        #expect(outcome.status == .completed)
        #expect(outcome.samples.map(\.metric) == ["copy/throughput", "zerocopy/throughput"])
        #expect(outcome.samples.allSatisfy { $0.value > 0 && $0.nic == .vmxnet3 })
        #expect(outcome.transcript.contains("pair: nr0 (vmxnet3) <-> pair-b/nr1"), "the traffic crossed vmxnet3 between the two guests")
    }
}
