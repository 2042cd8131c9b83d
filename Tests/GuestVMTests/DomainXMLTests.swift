import Foundation
import Testing
@testable import GuestVM
@testable import NetrigCore

@Suite struct DomainXMLTests {
    func spec(clock: MeasurementClock, accelerator: Accelerator = .tcg) -> GuestSpec {
        GuestSpec(name: "baseline", kernelImage: "/k/bzImage", rootImage: "/i/rootfs.ext4", extraCommandLine: ["kmemleak=on"],
                  memoryMiB: 1536, vcpus: 2, testNICs: [.vmxnet3, .vmxnet3], accelerator: accelerator, clock: clock,
                  workDirectory: "/w")
    }
    let wiring = DomainWiring(domainName: "netrig-baseline-1", diskOverlay: "/w/disk.qcow2", consoleLog: "/w/console.log",
                              sshPort: 40022)

    @Test func virtualClockAddsIcountUnderTCG() {
        let xml = DomainXML.render(spec(clock: .virtual), wiring: wiring)
        #expect(xml.contains("<domain type='qemu'"))
        #expect(xml.contains("<qemu:arg value='-icount'/>"))
        #expect(xml.contains("<qemu:arg value='shift=1,sleep=off'/>"))
        #expect(!DomainXML.render(spec(clock: .real), wiring: wiring).contains("icount"))
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
        #expect(recipe.packages.contains("openssh-server"))
        #expect(recipe.files["netrig-init"] == "/sbin/netrig-init")
        #expect(try recipe.contentHash(publicKey: "a") != recipe.contentHash(publicKey: "b"))
    }
}
