import NetrigCore

/// QEMU's and libvirt's names for the core's NIC models and accelerators: the hypervisor's vocabulary stays
/// in the adapter that speaks to it.
extension NICModel {
    /// QEMU's `-device` name; nil for software devices.
    public var qemuDevice: String? {
        switch self {
        case .virtioNet: "virtio-net-pci"
        case .e1000e: "e1000e"
        case .igb: "igb"
        case .vmxnet3: "vmxnet3"
        case .netdevsim, .veth: nil
        }
    }

    /// Device properties added under the instruction counter (`--clock virtual`), so that all of the
    /// device's work happens in the vCPU thread at instants fixed by the instruction count, never in
    /// QEMU's main loop at instants the host decides. virtio-net by default hands a queue kick to the main
    /// loop (an ioeventfd) and transmits from a bottom half there; without the ioeventfd the kick is
    /// handled where the guest wrote it, and `tx=timer` transmits from a timer on the virtual clock
    /// (docs/VIRTUAL-TIME.md). e1000e, igb and vmxnet3 already transmit and receive in the vCPU thread.
    public var virtualClockProperties: String {
        switch self {
        case .virtioNet: ",ioeventfd=off,tx=timer,x-txtimer=\(Self.virtioTXTimerNanoseconds)"
        default: ""
        }
    }

    /// How long (virtual ns) virtio-net's TX timer gathers packets after a kick before it transmits them.
    public static let virtioTXTimerNanoseconds = 1_000

    /// The QEMU release that added the device, for a clear error on an older hypervisor.
    public var minimumQEMU: String? { self == .igb ? "8.0" : nil }
}

extension Accelerator {
    /// libvirt's `<domain type=...>`.
    public var domainType: String { self == .kvm ? "kvm" : "qemu" }
}
