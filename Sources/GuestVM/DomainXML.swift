import NetrigCore

/// The per-boot values that the domain XML needs besides the `GuestSpec`.
public struct DomainWiring: Sendable, Equatable {
    public var domainName: String
    public var diskOverlay: String
    public var consoleLog: String
    /// Host port forwarded to the guest's SSH port, on 127.0.0.1 only.
    public var sshPort: Int
    /// One UDP port per test NIC: NICs 2k and 2k+1 are wired to each other.
    public var udpPorts: [Int]

    public init(domainName: String, diskOverlay: String, consoleLog: String, sshPort: Int, udpPorts: [Int]) {
        self.domainName = domainName
        self.diskOverlay = diskOverlay
        self.consoleLog = consoleLog
        self.sshPort = sshPort
        self.udpPorts = udpPorts
    }
}

/// Renders libvirt domain XML for a netrig guest: direct kernel boot, q35, virtio disk overlay, serial
/// console to a file, test NICs wired back to back over UDP on loopback, and the management NIC plus the
/// optional instruction counter through QEMU's command-line namespace (libvirt 9.0 has no element for either).
public enum DomainXML {
    static let managementMAC = GuestAddressing.managementMAC
    static func testMAC(_ index: Int) -> String { GuestAddressing.testMAC(index) }

    public static func kernelCommandLine(_ spec: GuestSpec) -> String {
        (["console=ttyS0,115200", "root=/dev/vda", "rw", "init=/sbin/netrig-init", "panic=-1", "loglevel=5",
          "udmabuf.size_limit_mb=256", "netrig.mgmt_mac=\(managementMAC)"] + spec.extraCommandLine).joined(separator: " ")
    }

    public static func render(_ spec: GuestSpec, wiring: DomainWiring) -> String {
        var nics = ""
        for (index, model) in spec.testNICs.enumerated() {
            let peer = index ^ 1
            guard peer < wiring.udpPorts.count else { continue }
            nics += """
                <interface type='udp'>
                  <mac address='\(testMAC(index))'/>
                  <source address='127.0.0.1' port='\(wiring.udpPorts[peer])'>
                    <local address='127.0.0.1' port='\(wiring.udpPorts[index])'/>
                  </source>
                  <model type='\(model.libvirtModel)'/>
                </interface>

            """
        }
        var qemuArgs = ["-netdev", "user,id=mgmt,hostfwd=tcp:127.0.0.1:\(wiring.sshPort)-:22",
                        "-device", "virtio-net-pci,netdev=mgmt,mac=\(managementMAC),bus=pcie.0,addr=0x10"]
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
          <features><acpi/></features>
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
        \(nics)    <serial type='file'>
              <source path='\(escape(wiring.consoleLog))'/>
              <target port='0'/>
            </serial>
            <controller type='usb' model='none'/>
            <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
            <memballoon model='none'/>
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
