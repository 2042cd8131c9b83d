import Foundation
import Testing
@testable import GuestVM
@testable import NetrigCore

@Suite struct DomainXMLTests {
    func spec(clock: MeasurementClock, accelerator: Accelerator = .tcg) -> GuestSpec {
        GuestSpec(name: "baseline", kernelImage: "/k/bzImage", rootImage: "/i/rootfs.ext4", extraCommandLine: ["kmemleak=on"],
                  memoryMiB: 1536, vcpus: 2, links: [NetworkLink(model: .vmxnet3, topology: .loop)], accelerator: accelerator,
                  clock: clock, workDirectory: "/w")
    }
    let wiring = DomainWiring(domainName: "netrig-baseline-1", diskOverlay: "/w/disk.qcow2", consoleLog: "/w/console.log",
                              sshPort: 40022, testNICs: TestNIC.wiring([NetworkLink(model: .vmxnet3, topology: .loop)], ports: { 0 })[0])

    @Test func virtualClockAddsIcountUnderTCG() {
        let xml = DomainXML.render(spec(clock: .virtual), wiring: wiring)
        #expect(xml.contains("<domain type='qemu'"))
        #expect(xml.contains("<qemu:arg value='-icount'/>"))
        #expect(xml.contains("<qemu:arg value='shift=1,sleep=off'/>"))
        #expect(!DomainXML.render(spec(clock: .real), wiring: wiring).contains("icount"))
    }

    /// Under the instruction counter, virtio-net does its work in the vCPU thread, on the virtual clock:
    /// no ioeventfd and no bottom half in the main loop (docs/VIRTUAL-TIME.md). The other models need nothing.
    @Test func virtioNetWorksInTheVCPUThreadInVirtualTime() {
        func xml(_ model: NICModel, _ clock: MeasurementClock) -> String {
            let link = NetworkLink(model: model, topology: .loop)
            var spec = spec(clock: clock)
            spec.links = [link]
            return DomainXML.render(spec, wiring: DomainWiring(domainName: "d", diskOverlay: "/o", consoleLog: "/c", sshPort: 1,
                                                               testNICs: TestNIC.wiring([link], ports: { 0 })[0]))
        }
        let timer = ",ioeventfd=off,tx=timer,x-txtimer=\(NICModel.virtioTXTimerNanoseconds)'/>"
        let virtual = xml(.virtioNet, .virtual)
        #expect(virtual.contains("virtio-net-pci,netdev=test0,mac=52:54:00:6e:00:01,bus=pcie.0,addr=0x11" + timer))
        #expect(virtual.contains("virtio-net-pci,netdev=test1,mac=52:54:00:6e:00:02,bus=pcie.0,addr=0x12" + timer))
        #expect(virtual.contains("virtio-net-pci,netdev=mgmt,mac=\(DomainXML.managementMAC),bus=pcie.0,addr=0x10'/>"),
                "the management NIC is left as it is")
        #expect(!xml(.virtioNet, .real).contains("ioeventfd"))
        #expect(!xml(.e1000e, .virtual).contains("ioeventfd") && !xml(.vmxnet3, .virtual).contains("tx=timer"))
    }

    @Test func testNICsAreWiredBackToBack() {
        let xml = DomainXML.render(spec(clock: .real), wiring: wiring)
        // Both test NICs sit on QEMU hub 0, each in its own slot on pcie.0.
        #expect(xml.contains("<qemu:arg value='hubport,id=test0,hubid=0'/>"))
        #expect(xml.contains("<qemu:arg value='hubport,id=test1,hubid=0'/>"))
        #expect(xml.contains("<qemu:arg value='vmxnet3,netdev=test0,mac=52:54:00:6e:00:01,bus=pcie.0,addr=0x11'/>"))
        #expect(xml.contains("<qemu:arg value='vmxnet3,netdev=test1,mac=52:54:00:6e:00:02,bus=pcie.0,addr=0x12'/>"))
        #expect(xml.contains("hostfwd=tcp:127.0.0.1:40022-:22"), "SSH is forwarded on loopback only")
        #expect(xml.contains("bus=pcie.0,addr=0x10"))
        #expect(xml.contains("kmemleak=on"))
        #expect(xml.contains("<memory unit='MiB'>1536</memory>"))
    }

    @Test func pairLinksJoinTwoGuestsByUDPOnLoopbackAndSoftwareNICsNeedNoDevice() {
        let links = [NetworkLink(model: .e1000e, topology: .pair, index: 0), NetworkLink(model: .netdevsim, topology: .pair, index: 1),
                     NetworkLink(model: .virtioNet, topology: .pair, index: 2)]
        var next = 50000
        let guests = TestNIC.wiring(links, ports: { next += 1; return next })
        #expect(guests.count == 2)
        #expect(guests[0] == [TestNIC(model: .e1000e, macIndex: 0, backend: .udp(localPort: 50001, remotePort: 50002)),
                              TestNIC(model: .virtioNet, macIndex: 4, backend: .udp(localPort: 50003, remotePort: 50004))])
        #expect(guests[1] == [TestNIC(model: .e1000e, macIndex: 1, backend: .udp(localPort: 50002, remotePort: 50001)),
                              TestNIC(model: .virtioNet, macIndex: 5, backend: .udp(localPort: 50004, remotePort: 50003))])
        var second = spec(clock: .real)
        second.links = links
        second.end = 1
        let xml = DomainXML.render(second, wiring: DomainWiring(domainName: "d", diskOverlay: "/o", consoleLog: "/c", sshPort: 1,
                                                                testNICs: guests[1]))
        #expect(xml.contains("<qemu:arg value='socket,id=test0,udp=127.0.0.1:50001,localaddr=127.0.0.1:50002'/>"))
        #expect(xml.contains("<qemu:arg value='e1000e,netdev=test0,mac=52:54:00:6e:00:02,bus=pcie.0,addr=0x11'/>"))
        #expect(xml.contains("<qemu:arg value='virtio-net-pci,netdev=test1,mac=52:54:00:6e:00:06,bus=pcie.0,addr=0x12'/>"))
        #expect(!xml.contains("netdevsim"), "netdevsim is created inside the guest")
        #expect(!xml.contains("iommu"))
    }

    @Test func virtualIOMMUTranslatesTheTestNICs() {
        var iommu = spec(clock: .real)
        iommu.viommu = true
        iommu.links = [NetworkLink(model: .virtioNet, topology: .loop)]
        let nics = TestNIC.wiring(iommu.links, ports: { 0 })[0]
        let xml = DomainXML.render(iommu, wiring: DomainWiring(domainName: "d", diskOverlay: "/o", consoleLog: "/c", sshPort: 1, testNICs: nics))
        #expect(xml.contains("<iommu model='intel'><driver intremap='on'/></iommu>"))
        #expect(xml.contains("<ioapic driver='qemu'/>"))
        #expect(xml.contains("intel_iommu=on iommu.strict=1"))
        #expect(xml.contains("mac=52:54:00:6e:00:01,bus=pcie.0,addr=0x11,disable-legacy=on,iommu_platform=on'/>"))
        #expect(!xml.contains("addr=0x10,disable-legacy"), "the management NIC keeps bypassing the IOMMU")
    }

    /// The core's `isEmulated` (its own switch, for the topologies) and GuestVM's QEMU device names agree,
    /// and only emulated NICs get devices in the wiring.
    @Test func emulatedModelsAreExactlyThoseWithAQEMUDevice() {
        for model in NICModel.allCases {
            #expect(model.isEmulated == (model.qemuDevice != nil), "\(model)")
            #expect(TestNIC.wiring([NetworkLink(model: model, topology: .loop)], ports: { 0 })[0].count == (model.isEmulated ? 2 : 0), "\(model)")
        }
    }

    @Test func kvmUsesTheHostCPU() {
        let xml = DomainXML.render(spec(clock: .real, accelerator: .kvm), wiring: wiring)
        #expect(xml.contains("<domain type='kvm'"))
        #expect(xml.contains("host-passthrough"))
    }

    @Test func valuesAreEscaped() {
        var hostile = spec(clock: .real)
        hostile.kernelImage = "/k/<x>&'y'"
        let xml = DomainXML.render(hostile, wiring: wiring)
        #expect(xml.contains("<kernel>/k/&lt;x&gt;&amp;&apos;y&apos;</kernel>"))
    }

    @Test func recipeParsesAndHashesItsFolder() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let recipe = try ImageRecipe(directory: root + "/images/debian-bookworm")
        #expect(recipe.suite == "bookworm")
        #expect(recipe.packages.contains("dropbear-bin"))
        #expect(recipe.customize.count == 1 && recipe.customize[0].contains("dropbearkey -t ed25519"))
        #expect(recipe.files["netrig-init"] == "/sbin/netrig-init")
        #expect(try recipe.contentHash(publicKey: "a") != recipe.contentHash(publicKey: "b"))
    }
}

/// netrig's per-installation key pair: the private key is made at mode 0600 in a 0700 directory, and a key
/// whose mode was loosened is tightened again before it is used (ssh-keygen, for real).
@Suite struct SSHKeyTests {
    func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func privateKeyIsMode0600AndStaysSo() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-keys-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let key = scratch + "/ssh/id_ed25519"
        let publicKey = try await SSHKeys.ensure(key)
        #expect(publicKey.hasPrefix("ssh-ed25519 "))
        #expect(try mode(key) == 0o600)
        #expect(try mode(scratch + "/ssh") == 0o700)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        #expect(try await SSHKeys.ensure(key) == publicKey, "the same key, not a new one")
        #expect(try mode(key) == 0o600)
    }
}

/// The KVM-or-TCG answer is kept for the host boot it was made in: the next run is answered from the file,
/// a new host boot or a change of /dev/kvm probes again, and a damaged file is probed over.
@Suite struct CachedAcceleratorProbeTests {
    final class Counting: AcceleratorProbe, @unchecked Sendable {
        let lock = NSLock()
        var calls = 0
        var answer: (Accelerator?, String)
        init(_ answer: (Accelerator?, String)) { self.answer = answer }
        func probe(kernel: String?) async -> AcceleratorAnswer {
            lock.withLock { calls += 1; return AcceleratorAnswer(answer.0, answer.1) }
        }
    }

    final class Host: @unchecked Sendable {
        var boot = "boot-1"
        var kvm = true
    }

    @Test func anAnswerLastsForTheHostBootAndTheStateOfDevKVM() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-probe-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let inner = Counting((.tcg, "a KVM guest printed nothing within 6 seconds"))
        let host = Host()
        let probe = CachedAcceleratorProbe(inner: inner, file: scratch + "/accelerator-probe.json", hostState: { (host.boot, host.kvm) })

        let first = await probe.probe(kernel: "/k")
        #expect(first.accelerator == .tcg && inner.calls == 1)
        let second = await probe.probe(kernel: "/k")
        #expect(second.accelerator == .tcg && inner.calls == 1, "answered from the file")
        #expect(second.reason.contains("printed nothing") && second.reason.contains("decided at"))

        inner.answer = (.kvm, "a KVM guest booted the kernel")
        host.boot = "boot-2"
        #expect(await probe.probe(kernel: "/k").accelerator == .kvm && inner.calls == 2, "a new host boot probes again")
        host.kvm = false
        inner.answer = (.tcg, "/dev/kvm is missing or not writable")
        #expect(await probe.probe(kernel: "/k").accelerator == .tcg && inner.calls == 3, "/dev/kvm changed: probed again")

        try Data("{half".utf8).write(to: URL(fileURLWithPath: scratch + "/accelerator-probe.json"))
        #expect(await probe.probe(kernel: "/k").accelerator == .tcg && inner.calls == 4, "a damaged file is probed over")
        #expect(await probe.refresh(kernel: "/k").accelerator == .tcg && inner.calls == 5, "doctor's refresh always probes")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch) == ["accelerator-probe.json"], "no temporary file left")
    }

    /// A probe that booted no kernel decides nothing and is never kept as the host's answer; a run that
    /// found KVM silent corrects a kept KVM; answers kept by an older netrig (which kept firmware-only
    /// answers) are not trusted.
    @Test func onlyADecidedAnswerIsKeptAndARunCorrectsIt() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-probe-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let file = scratch + "/accelerator-probe.json"
        let inner = Counting((nil, "KVM ran the firmware, but no kernel was tried"))
        let host = Host()
        let probe = CachedAcceleratorProbe(inner: inner, file: file, hostState: { (host.boot, host.kvm) })

        #expect(await probe.refresh(kernel: nil).accelerator == nil)
        #expect(!FileManager.default.fileExists(atPath: file), "an undecided answer is not kept")
        #expect(probe.keptAnswer() == nil)
        #expect(await probe.probe(kernel: nil).accelerator == nil && inner.calls == 2, "and so the next run probes again")

        inner.answer = (.kvm, "a KVM guest booted the kernel")
        #expect(await probe.probe(kernel: "/k").accelerator == .kvm && inner.calls == 3)
        inner.answer = (nil, "no kernel was tried")
        #expect(await probe.refresh(kernel: nil).accelerator == nil)
        #expect(probe.keptAnswer()?.accelerator == .kvm, "an undecided probe does not throw away a proven answer")

        await probe.correct(AcceleratorAnswer(.tcg, "a KVM guest of run 7 printed nothing within 12 s"))
        let corrected = await probe.probe(kernel: "/k")
        #expect(corrected.accelerator == .tcg && corrected.reason.hasPrefix("a KVM guest of run 7") && inner.calls == 4)

        // What netrig 0.x kept: no format field, a firmware-only KVM.
        let old = #"{"hostBoot":"boot-1","kvmWritable":true,"accelerator":"kvm","reason":"KVM ran the firmware (no kernel was tried)","probedAt":"x"}"#
        try Data(old.utf8).write(to: URL(fileURLWithPath: file))
        inner.answer = (.tcg, "a KVM guest printed nothing within 6 s")
        #expect(await probe.probe(kernel: "/k").accelerator == .tcg && inner.calls == 5, "an old file's answer is probed over")
    }
}

/// Mounts a stopped mmdebstrap left below a directory are found (deepest first, escaped paths decoded)
/// before netrig deletes that directory.
@Suite struct MountsTests {
    @Test func mountPointsBelowADirectoryDeepestFirst() {
        let mountinfo = """
            22 1 0:21 / /proc rw,nosuid - proc proc rw
            101 99 0:5 /null /c/images/x.tmp-7/root/dev/null rw - devtmpfs udev rw
            102 99 0:20 / /c/images/x.tmp-7/root/sys rw - sysfs sysfs rw
            103 102 0:6 / /c/images/x.tmp-7/root/sys/kernel/security rw - securityfs securityfs rw
            104 99 0:22 / /c/images/x.tmp-7/root/proc rw - proc proc rw
            105 99 0:23 / /c/images/x.tmp-70/root/proc rw - proc proc rw
            106 99 0:24 / /c/images/with\\040space/root/proc rw - proc proc rw
            """
        let points = Mounts.points(under: "/c/images/x.tmp-7", mountinfo: mountinfo)
        #expect(Set(points) == ["/c/images/x.tmp-7/root/dev/null", "/c/images/x.tmp-7/root/sys",
                                "/c/images/x.tmp-7/root/sys/kernel/security", "/c/images/x.tmp-7/root/proc"])
        #expect(points.first == "/c/images/x.tmp-7/root/sys/kernel/security", "submounts before their parents")
        #expect(Mounts.points(under: "/c/images/with space/", mountinfo: mountinfo) == ["/c/images/with space/root/proc"])
        #expect(Mounts.points(under: "/nowhere", mountinfo: mountinfo).isEmpty)
    }
}
