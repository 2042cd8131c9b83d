import ArgumentParser
import Foundation
import GuestVM
import HostCommands
import KernelBuild
import NetrigCore

/// One prerequisite: whether it holds, what was seen, and the one-line fix when it does not.
struct Check {
    var name: String
    var ok: Bool
    var detail: String
    var fix: String
}

struct DoctorCommand: NetrigCommand {
    static let configuration = CommandConfiguration(commandName: "doctor",
                                                    abstract: "Check prerequisites and probe KVM; print a fix for each problem.")

    @OptionGroup var global: GlobalOptions

    /// Debian packages netrig needs on this machine.
    static let packages = [
        "libvirt-daemon-system", "libvirt-dev", "qemu-system-x86", "qemu-utils", "libssh-dev", "libsqlite3-dev",
        "mmdebstrap", "ccache", "linux-source-6.12", "build-essential", "flex", "bison", "libelf-dev", "libssl-dev", "bc",
        "cpio", "e2fsprogs", "openssh-client", "git",
    ]

    func run(_ context: NetrigContext) async throws {
        let say = context.say(json: nil)
        let checks = await Self.checks(context)
        for check in checks {
            say("\(check.ok ? "ok  " : "FAIL") \(check.name): \(check.detail)")
            if !check.ok { say("     fix: \(check.fix)") }
        }
        let failed = checks.filter { !$0.ok }.count
        say(failed == 0 ? "all \(checks.count) checks passed" : "\(failed) of \(checks.count) checks failed")
        if failed > 0 { throw ExitWithVerdict(code: 1) }
    }

    static func checks(_ context: NetrigContext) async -> [Check] {
        let uri = context.libvirtURI, directories = context.directories
        let runner = context.commands
        var checks: [Check] = []
        let query = try? await runner.run(HostCommand("dpkg-query", ["-W", "-f", "${Package} ${db:Status-Status}\n"] + packages))
        let installed = Set((query?.standardOutput ?? "").split(separator: "\n").filter { $0.hasSuffix(" installed") }
            .map { String($0.split(separator: " ")[0]) })
        let missing = packages.filter { !installed.contains($0) }
        checks.append(Check(name: "Debian packages", ok: missing.isEmpty,
                            detail: missing.isEmpty ? "\(packages.count) installed" : "missing: \(missing.joined(separator: " "))",
                            fix: "apt-get install -y \(missing.joined(separator: " "))"))
        for daemon in ["virtlogd", "libvirtd"] where uri.hasPrefix("qemu:///") {
            let running = (try? await runner.run(HostCommand("pgrep", ["-x", daemon])))?.succeeded ?? false
            checks.append(Check(name: daemon, ok: running, detail: running ? "running" : "not running", fix: "\(daemon) -d"))
        }
        do {
            let versions = try await context.hypervisor().versions()
            checks.append(Check(name: "libvirt \(uri)", ok: true, detail: "libvirt \(versions.library), \(versions.hypervisor)", fix: ""))
        } catch {
            checks.append(Check(name: "libvirt \(uri)", ok: false, detail: "\(error)", fix: "virtlogd -d; libvirtd -d (or check --libvirt-uri)"))
        }
        let qemuConf = (try? String(contentsOfFile: "/etc/libvirt/qemu.conf", encoding: .utf8)) ?? ""
        let asRoot = qemuConf.split(separator: "\n").contains { $0.trimmingWhitespace == "user = \"root\"" }
        if uri.hasPrefix("qemu:///") {
            checks.append(Check(name: "QEMU runs as root", ok: asRoot, detail: asRoot ? "user = \"root\" in qemu.conf" : "guests cannot read kernels under \(directories.cache)",
                                fix: "add user = \"root\" and group = \"root\" to /etc/libvirt/qemu.conf and restart libvirtd"))
        }
        // The named trees: which version each run of them builds, or where it comes from on first use.
        let workspace = TreeWorkspace(directories: directories, runner: runner)
        for named in NamedTree.all {
            let suffix = named == NamedTree.default ? " (the default)" : ""
            if let (version, commit) = await workspace.imported(named) {
                checks.append(Check(name: "tree \(named.name)\(suffix)", ok: true,
                                    detail: "Linux \(version), imported at \(commit.prefix(12)) in \(directories.trees)/\(named.directoryName)", fix: ""))
                continue
            }
            switch named.origin {
            case .installed:
                let present = FileManager.default.fileExists(atPath: named.tarball)
                checks.append(Check(name: "tree \(named.name)\(suffix)", ok: present || named != NamedTree.default,
                                    detail: present ? "not imported yet: \(named.tarball) is imported on first use (about a minute)"
                                        : "\(named.tarball) is not installed", fix: "apt-get install \(named.package)"))
            case .suite(let suite):
                checks.append(Check(name: "tree \(named.name)\(suffix)", ok: true,
                                    detail: "not imported yet: \(named.package) is fetched from Debian \(suite) into the cache on first use (160 MiB, the system's apt untouched)", fix: ""))
            }
        }
        let kernel = (try? FileManager.default.contentsOfDirectory(atPath: directories.kernels))?
            .map { directories.kernels + "/\($0)/bzImage" }.first { FileManager.default.fileExists(atPath: $0) }
        do {
            checks.append(await acceleratorCheck(kernel: kernel, probe: try context.probe()))
        } catch {
            checks.append(Check(name: "accelerator", ok: false, detail: "\(error)", fix: "check \(directories.acceleratorProbe)"))
        }
        let free = Self.freeGiB(directories.cache)
        checks.append(Check(name: "disk space", ok: free >= 15, detail: String(format: "%.0f GiB free for %@", free, directories.cache),
                            fix: "free at least 15 GiB (a kernel build tree, ccache and images need it), or set NETRIG_CACHE_DIR"))
        let swift = (try? await runner.run(HostCommand("swift", ["--version"])))?.standardOutput.lastLines(99).first ?? ""
        checks.append(Check(name: "Swift", ok: swift.contains("Swift version 6"), detail: swift.isEmpty ? "not found" : swift,
                            fix: "install a Swift 6 toolchain"))
        return checks
    }

    /// KVM or TCG, proven by booting a kernel (the newest one netrig built). Without one the probe cannot
    /// decide, says so and why, and keeps nothing: the first run decides with its baseline kernel.
    static func acceleratorCheck(kernel: String?, probe: any KeptAcceleratorProbe) async -> Check {
        let answer = await probe.refresh(kernel: kernel)
        if let accelerator = answer.accelerator {
            return Check(name: "accelerator", ok: true, detail: "\(accelerator.rawValue.uppercased()): \(answer.reason)", fix: "")
        }
        let kept = probe.keptAnswer().map { "; the answer a kernel proved earlier in this host boot stays: "
            + "\($0.accelerator?.rawValue.uppercased() ?? "-") (\($0.reason))" } ?? "; until then runs probe for themselves"
        return Check(name: "accelerator", ok: true, detail: "could not decide yet: \(answer.reason)\(kept)", fix: "")
    }

    static func freeGiB(_ path: String) -> Double {
        var url = URL(fileURLWithPath: path)
        while !FileManager.default.fileExists(atPath: url.path), url.path != "/" { url.deleteLastPathComponent() }
        let attributes = try? FileManager.default.attributesOfFileSystem(forPath: url.path)
        let bytes = (attributes?[.systemFreeSize] as? NSNumber)?.doubleValue ?? 0
        return bytes / 1_073_741_824
    }
}
