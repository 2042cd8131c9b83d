import NetrigCore

/// The per-boot values that the domain XML needs besides the `GuestSpec`.
public struct DomainWiring: Sendable, Equatable {
    public var domainName: String
    public var diskOverlay: String
    public var consoleLog: String
    /// Host port forwarded to the guest's SSH port, on 127.0.0.1 only.
    public var sshPort: Int
    /// This guest's emulated NICs under test and their backends.
    public var testNICs: [TestNIC]

    public init(domainName: String, diskOverlay: String, consoleLog: String, sshPort: Int, testNICs: [TestNIC]) {
        self.testNICs = testNICs
        self.domainName = domainName
        self.diskOverlay = diskOverlay
        self.consoleLog = consoleLog
        self.sshPort = sshPort
    }
}

/// Renders libvirt domain XML for a netrig guest: direct kernel boot, q35, virtio disk overlay, serial
/// console to a file. The management NIC, the test NICs and the optional instruction counter go through
/// QEMU's command-line namespace (libvirt 9.0 has no element for a hub or for icount). In `loop`, test NICs
/// 2k and 2k+1 share QEMU hub k, so packets pass from one to the other inside QEMU, with no host socket
/// whose timing would leak into virtual time; in `pair`, each end is a UDP socket on 127.0.0.1 that sends
/// to the other guest's. With a vIOMMU, virtio test NICs use the DMA API (`iommu_platform`), as hardware
/// NICs do.
public enum DomainXML {
    static let managementMAC = GuestAddressing.managementMAC

    /// PCI slot on pcie.0 of test NIC `index` (the management NIC has 0x10; libvirt's root ports sit below).
    static func testSlot(_ index: Int) -> String { "0x" + String(0x11 + index, radix: 16) }

    public static func kernelCommandLine(_ spec: GuestSpec) -> String {
        (["console=ttyS0,115200", "root=/dev/vda", "rw", "init=/sbin/netrig-init", "panic=-1", "loglevel=5",
          "udmabuf.size_limit_mb=256", "netrig.mgmt_mac=\(managementMAC)"]
         + (spec.viommu ? ["intel_iommu=on", "iommu.strict=1"] : []) + spec.extraCommandLine).joined(separator: " ")
    }

    public static func render(_ spec: GuestSpec, wiring: DomainWiring) -> String {
        var qemuArgs = ["-netdev", "user,id=mgmt,hostfwd=tcp:127.0.0.1:\(wiring.sshPort)-:22",
                        "-device", "virtio-net-pci,netdev=mgmt,mac=\(managementMAC),bus=pcie.0,addr=0x10"]
        for (index, nic) in wiring.testNICs.enumerated() {
            guard let device = nic.model.qemuDevice else { continue }
            let backend = switch nic.backend {
            case .hub(let hub): "hubport,id=test\(index),hubid=\(hub)"
            case .udp(let local, let remote): "socket,id=test\(index),udp=127.0.0.1:\(remote),localaddr=127.0.0.1:\(local)"
            }
            let dmaAPI = spec.viommu && nic.model == .virtioNet ? ",disable-legacy=on,iommu_platform=on" : ""
            let inVCPUThread = spec.clock == .virtual ? nic.model.virtualClockProperties : ""
            qemuArgs += ["-netdev", backend,
                         "-device", "\(device),netdev=test\(index),mac=\(nic.mac),bus=pcie.0,addr=\(testSlot(index))\(dmaAPI)\(inVCPUThread)"]
        }
        if spec.clock == .virtual { qemuArgs += ["-icount", "shift=1,sleep=off"] }
        let cpu = spec.accelerator == .kvm ? "<cpu mode='host-passthrough'/>" : ""
        return """
        <domain type='\(spec.accelerator.domainType)' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
          <name>\(escape(wiring.domainName))</name>
          <memory unit='MiB'>\(spec.memoryMiB)</memory>
          <vcpu>\(spec.vcpus)</vcpu>
          \(cpu)
          <os>
            <type arch='x86_64' machine='q35'>hvm</type>
            <kernel>\(escape(spec.kernelImage))</kernel>
            <cmdline>\(escape(kernelCommandLine(spec)))</cmdline>
          </os>
          <features><acpi/>\(spec.viommu ? "<ioapic driver='qemu'/>" : "")</features>
          <on_poweroff>destroy</on_poweroff>
          <on_reboot>destroy</on_reboot>
          <on_crash>destroy</on_crash>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='\(escape(wiring.diskOverlay))'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            <serial type='file'>
              <source path='\(escape(wiring.consoleLog))'/>
              <target port='0'/>
            </serial>
            <controller type='usb' model='none'/>
            <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
            <memballoon model='none'/>\(spec.viommu ? "\n    <iommu model='intel'><driver intremap='on'/></iommu>" : "")
          </devices>
          <qemu:commandline>
        \(qemuArgs.map { "    <qemu:arg value='\(escape($0))'/>" }.joined(separator: "\n"))
          </qemu:commandline>
        </domain>

        """
    }

    static func escape(_ text: String) -> String {
        text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
            .replacingAll("'", with: "&apos;").replacingAll("\"", with: "&quot;")
    }
}
