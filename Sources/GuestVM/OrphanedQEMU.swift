import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The QEMU process of a domain, found and stopped without libvirt: for when libvirtd died under a running
/// guest (QEMU outlives it by design) and nobody is left to destroy it. Local hosts only.
enum OrphanedQEMU {
    /// PIDs of processes whose command line names the domain (libvirt passes `-name guest=NAME,...`).
    static func processes(of domainName: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first.map({ $0.contains("qemu-system") }) == true else { return nil }
            return arguments.contains { $0 == "guest=" + domainName || $0.hasPrefix("guest=" + domainName + ",") } ? pid : nil
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; returns the PIDs that were signalled.
    static func stop(_ domainName: String, grace: Duration = .seconds(3)) async -> [pid_t] {
        let pids = processes(of: domainName)
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, !processes(of: domainName).isEmpty {
            // Also when the run was cancelled (Ctrl-C): the guest must still go.
            do { try await Task.sleep(for: .milliseconds(100)) } catch { usleep(100_000) }
        }
        for pid in processes(of: domainName) { kill(pid, SIGKILL) }
        return pids
    }
}
