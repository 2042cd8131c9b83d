import ArgumentParser
import NetrigCore

/// The guest options `netrig run` and `netrig boot` share: which NICs, how they are wired, the kernel
/// command line, accelerator, memory and vCPUs, parsed and checked in one place.
struct GuestOptions: ParsableArguments {
    @Option(name: [.customLong("nics"), .customLong("nic")],
            help: "NIC models, comma-separated (a matrix in run): \(NICModel.allCases.map(\.rawValue).joined(separator: ", ")). Default: boot's virtio-net; run's the workload's first, skipping for a throughput workload a NIC whose throughput is not steady in virtual time (docs/VIRTUAL-TIME.md).")
    var nics: String?

    @Option(help: "How the NICs are wired: loop (one guest, both ends) or pair (two guests); run's default: the workload's first.")
    var topology: String?

    @Flag(help: "Boot with a virtual Intel IOMMU in strict mode (intel_iommu=on iommu.strict=1); the config needs CONFIG_INTEL_IOMMU.")
    var viommu = false

    @Flag(help: "Bounce every streaming DMA mapping through swiotlb (swiotlb=force).")
    var swiotlb = false

    @Option(help: "Extra kernel command-line arguments for every guest, space-separated (e.g. \"nokaslr page_poison=1\").")
    var append: String?

    @Option(help: "Accelerator: kvm or tcg (default: probe KVM, fall back to TCG).")
    var accel: String?

    @Option(help: "Guest memory in MiB.")
    var memory: Int = 1024

    @Option(help: "Guest vCPUs (default: 2; 1 for throughput boots in virtual time, see docs/VIRTUAL-TIME.md).")
    var vcpus: Int?

    @Option(help: "Seconds a guest may take to answer SSH before its boot fails (a slower host needs more).")
    var bootTimeout: Int = 180

    /// vCPUs of a guest that is not a throughput boot in virtual time.
    var bootVCPUs: Int { vcpus ?? RunPlan.vcpusDefault }

    /// Whether the user named the NICs.
    var namedNICs: Bool { nics != nil }

    /// The NIC models in the order given, each once; `automatic` when none were named.
    func nicModels(automatic: NICModel = .virtioNet) throws -> [NICModel] {
        guard let nics else { return [automatic] }
        let models = try nics.split(separator: ",").map { $0.trimmingWhitespace }.filter { !$0.isEmpty }.map { name in
            guard let model = NICModel(rawValue: name) else {
                throw ValidationError("unknown NIC '\(name)'; choose from \(NICModel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return model
        }
        guard !models.isEmpty, Set(models).count == models.count else {
            throw ValidationError("--nics needs distinct NIC models, e.g. virtio-net,vmxnet3")
        }
        return models
    }

    func topologyChoice() throws -> Topology? {
        try topology.map { value in
            guard let choice = Topology(rawValue: value) else { throw ValidationError("--topology must be loop or pair") }
            return choice
        }
    }

    /// --append and --swiotlb as kernel arguments; nothing that would replace netrig's init or root, and
    /// no shell characters (the arguments go to libvirt as they are, but they also end up in reports).
    func extraCommandLine() throws -> [String] {
        let arguments = (append?.split(separator: " ").map(String.init) ?? []) + (swiotlb ? ["swiotlb=force"] : [])
        if let bad = arguments.first(where: { $0.contains { "'\"`$;\\".contains($0) } || $0.hasPrefix("init=") || $0.hasPrefix("root=") }) {
            throw ValidationError("--append '\(bad)': quotes, shell characters, init= and root= are not allowed (netrig's init must run)")
        }
        return arguments
    }

    func accelerator() throws -> Accelerator? {
        try accel.map { value in
            guard let choice = Accelerator(rawValue: value) else { throw ValidationError("--accel must be kvm or tcg") }
            return choice
        }
    }

    func validate() throws {
        guard memory >= 256 else { throw ValidationError("--memory must be at least 256 (MiB)") }
        guard (1...64).contains(bootVCPUs) else { throw ValidationError("--vcpus must be between 1 and 64") }
        guard (5...3600).contains(bootTimeout) else { throw ValidationError("--boot-timeout must be between 5 and 3600 (seconds)") }
    }
}
