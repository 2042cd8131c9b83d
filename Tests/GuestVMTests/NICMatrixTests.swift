import Foundation
import Libvirt
import NetrigCore
import NetrigTestSupport
import Testing
@testable import GuestVM
@testable import Workloads

/// Every NIC model in every topology it supports, on real guests: wired by netrig's own link setup, driven
/// by the expected driver, and carrying real TCP traffic (netcat) that arrives whole and that the NIC
/// counters see.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct NICMatrixTests {
    let fixtures = HostFixtures.shared
    var launcher: LibvirtGuestLauncher { LibvirtGuestLauncher(uri: fixtures.libvirtURI, privateKey: fixtures.directories.sshKey) }

    /// The emulated models this QEMU provides (igb needs QEMU 8.0; Debian 12 has 7.2).
    func emulatedModels() async -> [NICModel] {
        let missing = await launcher.unsupportedNICs(NICModel.allCases)
        return NICModel.allCases.filter { $0.isEmulated && missing[$0] == nil }
    }

    /// Sends 4 MiB over TCP (netcat) from the local end to the peer end of `link`; returns the bytes the
    /// receiving program counted and what the interface counters saw meanwhile: the peer's rx_bytes, or the
    /// local tx_bytes for netdevsim (which counts only transmits).
    func traffic(_ link: NetworkLink, client: any GuestSession, server: any GuestSession) async throws -> (received: Int, counted: Int) {
        let inPeer = link.topology == .loop ? "ip netns exec \(link.peerNamespace) " : ""
        let (counterGuest, counter) = link.model == .netdevsim
            ? (client, "cat /sys/class/net/\(link.localInterface)/statistics/tx_bytes")
            : (server, "\(inPeer)cat /sys/class/net/\(link.peerInterface)/statistics/rx_bytes")
        let before = Int(try await counterGuest.runScript(counter, timeout: .seconds(30)).standardOutput.trimmingWhitespace) ?? -1
        let got = "/tmp/netrig-got-\(link.index)"
        _ = try await server.runScript("rm -f \(got); \(inPeer)sh -c 'nc -l \(link.peerAddress) 5201 | wc -c > \(got).tmp; mv \(got).tmp \(got)' "
                                       + ">/dev/null 2>&1 </dev/null &\nsleep 0.5", timeout: .seconds(30))
        let send = try await client.runScript("head -c 4194304 /dev/zero | nc -N \(link.peerAddress) 5201", timeout: .seconds(180))
        #expect(send.exitStatus == 0, "nc over \(link.label): \(send.standardError)")
        let received = try await server.runScript("for i in $(seq 1 150); do [ -s \(got) ] && break; sleep 0.2; done; cat \(got)",
                                                  timeout: .seconds(60))
        let after = Int(try await counterGuest.runScript(counter, timeout: .seconds(30)).standardOutput.trimmingWhitespace) ?? -1
        return (Int(received.standardOutput.trimmingWhitespace) ?? -1, after - before)
    }

    @Test func everyNICModelCarriesTrafficInTheLoopTopologyAndUdmabufWorks() async throws {
        let models = await emulatedModels() + [.netdevsim, .veth]
        let links = models.enumerated().map { NetworkLink(model: $1, topology: .loop, index: $0) }
        let spec = try await fixtures.guestSpec("nic-loop", links: links)
        defer { try? FileManager.default.removeItem(atPath: spec.workDirectory) }
        let (results, udmabuf) = try await launcher.withGuest(spec) { guest in
            var results: [(NetworkLink, String, (received: Int, counted: Int))] = []
            for link in links {
                let setup = try await LinkSetup.wire(link, on: [guest])
                results.append((link, setup, try await traffic(link, client: guest, server: guest)))
            }
            let udmabuf = try await guest.runScript(Self.udmabufScript, timeout: .seconds(60))
            return (results, udmabuf)
        }
        #expect(results.count == models.count)
        for (link, setup, bytes) in results {
            #expect(setup.contains("loop: \(link.localInterface) (\(link.model.driver)) <-> \(link.peerNamespace)/\(link.peerInterface)"),
                    "\(link.label) is driven by \(link.model.driver)")
            if link.model == .vmxnet3 {
                #expect(setup.contains("xdp: XDP_PASS attached"), "vmxnet3 receives into its page pool:\n\(setup)")
            }
            #expect(bytes.received == 4 << 20, "the peer end of \(link.label) received the 4 MiB (got \(bytes.received) bytes)")
            #expect(bytes.counted >= 3 << 20, "\(link.label)'s counters saw the traffic (\(bytes.counted) bytes)")
        }
        #expect(udmabuf.exitStatus == 0, "udmabuf: \(udmabuf.standardOutput) \(udmabuf.standardError)")
        #expect(udmabuf.standardOutput.contains("size_limit_mb=256"))
        #expect(udmabuf.standardOutput.contains("dmabuf exp_name=udmabuf size=67108864"), "a 64 MiB dma-buf from a sealed memfd")
    }

    @Test func everyEmulatedNICCarriesTrafficBetweenAPairOfGuests() async throws {
        let models = await emulatedModels()
        let links = models.enumerated().map { NetworkLink(model: $1, topology: .pair, index: $0) }
        let specs = try await [fixtures.guestSpec("nic-pair-a", links: links), fixtures.guestSpec("nic-pair-b", links: links, end: 1)]
        defer { specs.forEach { try? FileManager.default.removeItem(atPath: $0.workDirectory) } }
        let results = try await launcher.withGuests(specs) { guests in
            var results: [(NetworkLink, String, (received: Int, counted: Int))] = []
            for link in links {
                let setup = try await LinkSetup.wire(link, on: guests)
                results.append((link, setup, try await traffic(link, client: guests[0], server: guests[1])))
            }
            return results
        }
        #expect(results.count == models.count && models.count >= 3)
        for (link, setup, bytes) in results {
            #expect(setup.contains("pair: \(link.localInterface) (\(link.model.driver)) <-> nic-pair-b/\(link.peerInterface)"))
            if link.model == .vmxnet3 { #expect(setup.components(separatedBy: "xdp: XDP_PASS attached").count == 3, "both guests") }
            #expect(bytes.received == 4 << 20, "the second guest's \(link.label) end received the 4 MiB (got \(bytes.received) bytes)")
            #expect(bytes.counted >= 3 << 20, "the second guest's \(link.label) counters saw the traffic (\(bytes.counted) bytes)")
        }
    }

    @Test func aNICTheHypervisorLacksIsNamedWithTheReason() async throws {
        let help = try String(decoding: Self.qemuDeviceHelp(), as: UTF8.self)
        let missing = await launcher.unsupportedNICs([.igb, .vmxnet3, .netdevsim])
        #expect(missing[.vmxnet3] == nil && missing[.netdevsim] == nil)
        if help.contains("name \"igb\"") {
            #expect(missing[.igb] == nil)
        } else {
            let reason = try #require(missing[.igb])
            #expect(reason.hasPrefix("QEMU "))
            #expect(reason.hasSuffix("has no 'igb' device (it came with QEMU 8.0)"))
        }
    }

    @Test func virtualIOMMUTranslatesTheTestNICs() async throws {
        let links = [NetworkLink(model: .vmxnet3, topology: .loop, index: 0), NetworkLink(model: .virtioNet, topology: .loop, index: 1)]
        let spec = try await fixtures.guestSpec("viommu", links: links, viommu: true)
        defer { try? FileManager.default.removeItem(atPath: spec.workDirectory) }
        let (state, results) = try await launcher.withGuest(spec) { guest in
            let state = try await guest.runScript("""
                ls /sys/class/iommu/
                cat /proc/cmdline
                for d in /sys/class/net/*/device; do echo "$(basename $(readlink $d/driver)) group=$(basename $(readlink $d/iommu_group))"; done
                """, timeout: .seconds(30))
            var results: [(NetworkLink, Int)] = []
            for link in links {
                _ = try await LinkSetup.wire(link, on: [guest])
                results.append((link, try await traffic(link, client: guest, server: guest).received))
            }
            return (state.standardOutput, results)
        }
        #expect(state.contains("dmar0"), "the guest sees the virtual Intel IOMMU")
        #expect(state.contains("intel_iommu=on iommu.strict=1"))
        #expect(state.split(separator: "\n").filter { $0.hasPrefix("vmxnet3 group=") && !$0.hasSuffix("group=") && !$0.hasSuffix("group=.") }.count == 2,
                "both vmxnet3 NICs sit in IOMMU groups:\n\(state)")
        for (link, bytes) in results {
            #expect(bytes == 4 << 20, "\(link.label) carried traffic through IOMMU translations (got \(bytes) bytes)")
        }
    }

    @Test func keptGuestIsReachableWithNetrigSSHAndDestroyedOnRequest() async throws {
        let registry = KeptGuestRegistry(directory: fixtures.scratchDirectory("kept"))
        defer { try? FileManager.default.removeItem(atPath: registry.directory) }
        let spec = try await fixtures.guestSpec("kept", links: [NetworkLink(model: .netdevsim, topology: .loop)])
        defer { try? FileManager.default.removeItem(atPath: spec.workDirectory) }
        var keeping = launcher
        keeping.keep = true
        keeping.keptGuests = registry
        try await keeping.withGuest(spec) { _ in }
        var destroyed = false
        defer { if !destroyed { Task { await registry.destroy(name: "kept") } } }
        let kept = try #require(try await registry.running().first { $0.name == "kept" }, "the guest still runs after the body")
        let ssh = Process()
        ssh.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
        ssh.arguments = Array(kept.sshArguments(command: ["uname", "-r"]).dropFirst())
        let pipe = Pipe()
        ssh.standardOutput = pipe
        try ssh.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ssh.waitUntilExit()
        #expect(ssh.terminationStatus == 0)
        #expect(output.hasPrefix("6.12"), "OpenSSH with the kept guest's arguments ran uname in it: \(output)")

        #expect(await registry.destroy(name: "kept"))
        destroyed = true
        let connection = try await LibvirtConnection(uri: fixtures.libvirtURI)
        let active = try await connection.activeDomainNames()
        await connection.close()
        #expect(!active.contains(kept.domain), "destroyed on request")
        #expect(registry.list().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: kept.diskOverlay))
    }

    static func qemuDeviceHelp() throws -> Data {
        let qemu = Process()
        qemu.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-system-x86_64")
        qemu.arguments = ["-device", "help"]
        let pipe = Pipe()
        qemu.standardOutput = pipe
        try qemu.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        qemu.waitUntilExit()
        return data
    }

    /// Creates a 64 MiB dma-buf from a sealed memfd with /dev/udmabuf, as ncdevmem does, and prints what
    /// the kernel says about it.
    static let udmabufScript = """
    echo "size_limit_mb=$(cat /sys/module/udmabuf/parameters/size_limit_mb)"
    python3 - <<'PY'
    import fcntl, os, struct
    size = 64 << 20
    memfd = os.memfd_create("netrig", os.MFD_ALLOW_SEALING)
    os.ftruncate(memfd, size)
    fcntl.fcntl(memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
    dev = os.open("/dev/udmabuf", os.O_RDWR)
    UDMABUF_CREATE = 0x40187542  # _IOW('u', 0x42, struct udmabuf_create { u32 memfd; u32 flags; u64 offset; u64 size; })
    arg = bytearray(struct.pack("IIQQ", memfd, 0, 0, size))
    dmabuf = fcntl.ioctl(dev, UDMABUF_CREATE, arg, True)
    info = dict(line.split(":", 1) for line in open(f"/proc/self/fdinfo/{dmabuf}").read().splitlines() if ":" in line)
    print(f"dmabuf exp_name={info['exp_name'].strip()} size={info['size'].strip()}")
    os.close(dmabuf); os.close(dev); os.close(memfd)
    PY
    """
}
