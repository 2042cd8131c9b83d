import Foundation
import NetrigCore

/// Remembers the KVM-or-TCG answer for as long as the host stays up. Whether nested KVM works is a
/// property of the host and its boot, not of the run: probing costs up to 6 s on every run where it
/// hangs, and a nightly job starts dozens of runs. The answer is kept in one small JSON file, keyed by
/// the host's boot ID and whether /dev/kvm is writable; a reboot, or /dev/kvm appearing or going away,
/// probes again. `netrig doctor` always probes afresh and refreshes it.
public struct CachedAcceleratorProbe: AcceleratorProbe {
    struct Entry: Codable, Equatable {
        var hostBoot: String
        var kvmWritable: Bool
        var accelerator: Accelerator
        var reason: String
        var probedAt: String
    }

    public var inner: any AcceleratorProbe
    public var file: String
    /// The host's boot and the state of /dev/kvm: when either changes, the answer is stale.
    public var hostState: @Sendable () -> (boot: String, kvmWritable: Bool)?

    public init(inner: any AcceleratorProbe = QEMUAcceleratorProbe(), file: String,
                hostState: @escaping @Sendable () -> (boot: String, kvmWritable: Bool)? = CachedAcceleratorProbe.currentHost) {
        self.inner = inner
        self.file = file
        self.hostState = hostState
    }

    public func probe(kernel: String?) async -> (accelerator: Accelerator, reason: String) {
        guard let host = hostState() else { return await inner.probe(kernel: kernel) }
        if let data = FileManager.default.contents(atPath: file),
           let entry = try? JSONDecoder().decode(Entry.self, from: data),
           entry.hostBoot == host.boot, entry.kvmWritable == host.kvmWritable {
            return (entry.accelerator, "\(entry.reason); probed at \(entry.probedAt) in this host boot, `netrig doctor` probes again")
        }
        return await refresh(kernel: kernel, host: host)
    }

    /// Probes now and keeps the answer (what `netrig doctor` does).
    public func refresh(kernel: String?) async -> (accelerator: Accelerator, reason: String) {
        guard let host = hostState() else { return await inner.probe(kernel: kernel) }
        return await refresh(kernel: kernel, host: host)
    }

    private func refresh(kernel: String?, host: (boot: String, kvmWritable: Bool)) async -> (accelerator: Accelerator, reason: String) {
        let probed = await inner.probe(kernel: kernel)
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .current, formatOptions: [.withInternetDateTime])
        let entry = Entry(hostBoot: host.boot, kvmWritable: host.kvmWritable, accelerator: probed.accelerator,
                          reason: probed.reason, probedAt: stamp)
        // Written atomically (a temporary file renamed into place): two runs starting together never read half a file.
        if let data = try? JSONEncoder().encode(entry) {
            try? FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? data.write(to: URL(fileURLWithPath: file), options: .atomic)
        }
        return probed
    }

    /// The kernel's random boot ID (new at every host boot) and whether /dev/kvm can be opened for writing.
    public static let currentHost: @Sendable () -> (boot: String, kvmWritable: Bool)? = {
        guard let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        return (boot.trimmingWhitespace, FileManager.default.isWritableFile(atPath: "/dev/kvm"))
    }
}
