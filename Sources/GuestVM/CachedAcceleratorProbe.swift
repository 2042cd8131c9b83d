import Foundation
import NetrigCore

/// Remembers the KVM-or-TCG answer for as long as the host stays up. Whether nested KVM works is a
/// property of the host and its boot, not of the run: probing costs up to 6 s on every run where it
/// hangs, and a nightly job starts dozens of runs. The answer is kept in one small JSON file, keyed by
/// the host's boot ID and whether /dev/kvm is writable; a reboot, or /dev/kvm appearing or going away,
/// probes again. Only a decided answer is kept (a probe that booted no kernel decides nothing), and a run
/// whose KVM guest printed nothing corrects it. `netrig doctor` always probes afresh.
public struct CachedAcceleratorProbe: AcceleratorProbe {
    struct Entry: Codable, Equatable {
        /// The layout of the file: entries of earlier layouts (which kept firmware-only answers) are stale.
        var format: Int
        var hostBoot: String
        var kvmWritable: Bool
        var accelerator: Accelerator
        var reason: String
        var probedAt: String

        static let currentFormat = 2
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

    public func probe(kernel: String?) async -> AcceleratorAnswer {
        guard let host = hostState() else { return await inner.probe(kernel: kernel) }
        if let entry = kept(for: host) {
            return AcceleratorAnswer(entry.accelerator, "\(entry.reason); decided at \(entry.probedAt) in this host boot, `netrig doctor` probes again")
        }
        return await refresh(kernel: kernel, host: host)
    }

    /// Probes now and keeps the answer when it is decided (what `netrig doctor` does).
    public func refresh(kernel: String?) async -> AcceleratorAnswer {
        guard let host = hostState() else { return await inner.probe(kernel: kernel) }
        return await refresh(kernel: kernel, host: host)
    }

    public func correct(_ answer: AcceleratorAnswer) async {
        guard let host = hostState(), answer.accelerator != nil else { return }
        keep(answer, host: host)
    }

    /// The answer kept for this host boot, if there is one.
    public func keptAnswer() -> AcceleratorAnswer? {
        guard let host = hostState(), let entry = kept(for: host) else { return nil }
        return AcceleratorAnswer(entry.accelerator, "\(entry.reason); decided at \(entry.probedAt)")
    }

    /// The kept answer for this host boot, if there is one of the current format.
    func kept(for host: (boot: String, kvmWritable: Bool)) -> Entry? {
        guard let data = FileManager.default.contents(atPath: file),
              let entry = try? JSONDecoder().decode(Entry.self, from: data),
              entry.format == Entry.currentFormat, entry.hostBoot == host.boot, entry.kvmWritable == host.kvmWritable else { return nil }
        return entry
    }

    private func refresh(kernel: String?, host: (boot: String, kvmWritable: Bool)) async -> AcceleratorAnswer {
        let probed = await inner.probe(kernel: kernel)
        // An undecided probe is never the host's answer (a decided one kept earlier stays).
        if probed.accelerator != nil { keep(probed, host: host) }
        return probed
    }

    private func keep(_ answer: AcceleratorAnswer, host: (boot: String, kvmWritable: Bool)) {
        guard let accelerator = answer.accelerator else { return }
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .current, formatOptions: [.withInternetDateTime])
        let entry = Entry(format: Entry.currentFormat, hostBoot: host.boot, kvmWritable: host.kvmWritable, accelerator: accelerator,
                          reason: answer.reason, probedAt: stamp)
        // Written atomically (a temporary file renamed into place): two runs starting together never read half a file.
        if let data = try? JSONEncoder().encode(entry) {
            try? FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? data.write(to: URL(fileURLWithPath: file), options: .atomic)
        }
    }

    /// The kernel's random boot ID (new at every host boot) and whether /dev/kvm can be opened for writing.
    public static let currentHost: @Sendable () -> (boot: String, kvmWritable: Bool)? = {
        guard let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        return (boot.trimmingWhitespace, FileManager.default.isWritableFile(atPath: "/dev/kvm"))
    }
}
