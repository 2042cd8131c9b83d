import Crypto
import Digests
import Foundation
import HostCommands
import NetrigCore
import TOMLKit

/// A root filesystem recipe from `images/NAME/recipe.toml`.
public struct ImageRecipe: Sendable, Equatable {
    public var name: String
    public var suite: String
    public var mirror: String
    public var variant: String
    public var sizeMiB: Int
    public var packages: [String]
    /// Shell commands mmdebstrap runs once the packages are installed (`--customize-hook`), with the root
    /// directory as $1: recipe text committed with netrig, never user input.
    public var customize: [String]
    /// File beside the recipe → destination in the image.
    public var files: [String: String]
    public var directory: String

    public init(directory: String) throws {
        let path = directory + "/recipe.toml"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw NetrigError(blame: .usage, subject: path, message: "no image recipe here")
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch {
            throw NetrigError(blame: .usage, subject: path, message: "not valid TOML: \(error)", cause: error)
        }
        func string(_ key: String) throws -> String {
            guard let value = table[key]?.string else {
                throw NetrigError(blame: .usage, subject: path, message: "missing '\(key)'")
            }
            return value
        }
        name = try string("name")
        suite = try string("suite")
        mirror = try string("mirror")
        variant = table["variant"]?.string ?? "minbase"
        sizeMiB = table["size_mib"]?.int ?? 1536
        packages = table["packages"]?.array?.compactMap { $0.string } ?? []
        customize = table["customize"]?.array?.compactMap { $0.string } ?? []
        var files: [String: String] = [:]
        if let table = table["files"]?.table {
            for (key, value) in table { if let destination = value.string { files[key] = destination } }
        }
        self.files = files
        self.directory = directory
    }

    /// Hash of every file of the recipe's folder and the SSH public key baked into the image.
    public func contentHash(publicKey: String) throws -> String {
        var hasher = SHA256()
        hasher.update("netrig-image-1\n" + publicKey + "\n")
        for file in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            hasher.update("file \(file)\n")
            if let data = FileManager.default.contents(atPath: directory + "/" + file) { hasher.update(data: data) }
        }
        return hasher.finalize().hex
    }
}

/// Builds the guest image with mmdebstrap into `cache/images/<hash>/rootfs.ext4`, once per recipe content.
public struct RecipeImageProvider: ImageProvider {
    public var recipeDirectory: String
    public var directories: NetrigDirectories
    var runner: any CommandRunner

    public init(recipeDirectory: String, directories: NetrigDirectories, runner: any CommandRunner = HostCommandRunner()) {
        self.recipeDirectory = recipeDirectory
        self.directories = directories
        self.runner = runner
    }

    public func prepareImage(progress: any ProgressObserver) async throws -> String {
        let recipe = try ImageRecipe(directory: recipeDirectory)
        let publicKey = try await SSHKeys.ensure(directories.sshKey, runner: runner)
        let hash = try recipe.contentHash(publicKey: publicKey)
        let target = directories.images + "/\(recipe.name)-\(hash.prefix(16))"
        let image = target + "/rootfs.ext4"
        let fm = FileManager.default
        if fm.fileExists(atPath: image) {
            if let damage = await Self.damage(of: image, runner: runner) {
                progress.note("guest image: the cached image \(hash.prefix(12)) is damaged (\(damage)): building it again")
                try? fm.removeItem(atPath: target)
            } else {
                progress.note("guest image: cached (\(recipe.name), \(hash.prefix(12)))")
                return image
            }
        }
        let staging = target + ".tmp-\(getpid())"
        _ = Mounts.detachAll(under: staging)
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer {
            // Never delete through a mount a stopped mmdebstrap left (its /proc, /sys, /dev nodes).
            let stuck = Mounts.detachAll(under: staging)
            if stuck.isEmpty {
                try? fm.removeItem(atPath: staging)
            } else {
                progress.note("guest image: \(stuck.count) file system(s) still mounted under \(staging), so it was not deleted: "
                              + "umount -R \(stuck.last ?? staging) and remove it")
            }
        }
        let root = staging + "/root"
        let log = staging + "/mmdebstrap.log"
        progress.status("guest image: mmdebstrap \(recipe.suite) with \(recipe.packages.count) packages (a few minutes, once)")
        let debootstrap = HostCommand("mmdebstrap", ["--variant=\(recipe.variant)", "--include=" + recipe.packages.joined(separator: ",")]
                                      + recipe.customize.map { "--customize-hook=" + $0 } + [recipe.suite, root, recipe.mirror])
        guard try await runner.run(debootstrap, logTo: log) == 0 else {
            throw NetrigError(blame: .infrastructure, subject: recipe.name, message: "mmdebstrap failed",
                              details: ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").lastLines(8))
        }
        for (source, destination) in recipe.files.sorted(by: { $0.key < $1.key }) {
            let path = root + destination
            try? fm.removeItem(atPath: path)
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.copyItem(atPath: recipe.directory + "/" + source, toPath: path)
            let executable = fm.isExecutableFile(atPath: recipe.directory + "/" + source)
            try fm.setAttributes([.posixPermissions: executable ? 0o755 : 0o644], ofItemAtPath: path)
        }
        try fm.createDirectory(atPath: root + "/root/.ssh", withIntermediateDirectories: true,
                               attributes: [.posixPermissions: 0o700])
        try (publicKey + "\n").write(toFile: root + "/root/.ssh/authorized_keys", atomically: true, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: root + "/root/.ssh/authorized_keys")
        let mkfs = HostCommand("mke2fs", ["-q", "-t", "ext4", "-d", root, "-L", "netrig-root", staging + "/rootfs.ext4", "\(recipe.sizeMiB)M"])
        guard try await runner.run(mkfs, logTo: log) == 0 else {
            throw NetrigError(blame: .infrastructure, subject: recipe.name, message: "mke2fs failed",
                              details: ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").lastLines(5))
        }
        _ = Mounts.detachAll(under: root)
        try fm.removeItem(atPath: root)
        try Self.stamp(staging + "/rootfs.ext4")
        try? fm.removeItem(atPath: target)
        try fm.moveItem(atPath: staging, toPath: target)
        return image
    }
}

extension RecipeImageProvider {
    /// Beside a cached image: its size and modification time when it was made. Guests boot from overlays,
    /// so a cached image never changes; one that did (truncated, written to, replaced) is built again.
    static func stampPath(_ image: String) -> String { image + ".stamp" }

    static func fingerprint(_ image: String) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: image)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "size \(size) modified \(String(format: "%.6f", modified))"
    }

    static func stamp(_ image: String) throws {
        try (try fingerprint(image) + "\n").write(toFile: stampPath(image), atomically: true, encoding: .utf8)
    }

    /// Why a cached image cannot be used, or nil: its size or time differ from its stamp, or its file system
    /// does not check clean (`e2fsck -fn`, read-only, well under a second). An image from before stamps
    /// were written gets one when it checks clean.
    static func damage(of image: String, runner: any CommandRunner) async -> String? {
        let recorded = (try? String(contentsOfFile: stampPath(image), encoding: .utf8))?.trimmingWhitespace
        guard let now = try? fingerprint(image) else { return "cannot read it" }
        if let recorded, recorded != now { return "\(now), made as \(recorded)" }
        let check = try? await runner.run(HostCommand("e2fsck", ["-f", "-n", image]), timeout: .seconds(120))
        guard let check, check.succeeded else {
            return "e2fsck -fn: " + ((check?.standardOutput ?? "") + (check?.standardError ?? "")).lastLines(2).joined(separator: " ")
        }
        if recorded == nil { try? stamp(image) }
        return nil
    }
}

/// netrig's per-installation SSH key pair (ed25519, private key mode 0600).
public enum SSHKeys {
    /// Creates the key pair unless it exists; returns the public key line.
    public static func ensure(_ privateKey: String, runner: any CommandRunner = HostCommandRunner()) async throws -> String {
        let fm = FileManager.default
        if !fm.fileExists(atPath: privateKey) {
            try fm.createDirectory(atPath: (privateKey as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                   attributes: [.posixPermissions: 0o700])
            let result = try await runner.run(HostCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "netrig", "-f", privateKey]))
            guard result.succeeded else {
                throw NetrigError(blame: .infrastructure, subject: privateKey, message: "ssh-keygen failed",
                                  details: result.standardError.lastLines(3))
            }
        }
        try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: privateKey)
        guard let publicKey = try? String(contentsOfFile: privateKey + ".pub", encoding: .utf8) else {
            throw NetrigError(blame: .infrastructure, subject: privateKey + ".pub", message: "public key missing")
        }
        return publicKey.trimmingWhitespace
    }
}

/// Probes KVM by booting a kernel with `-accel kvm` and waiting briefly for its first console line. On
/// some hosts /dev/kvm opens and firmware runs, but a nested guest's kernel hangs: those are TCG after the
/// timeout. Without a kernel only the firmware can be tried (SeaBIOS on the debug port), and firmware that
/// runs proves nothing about a kernel: that answer is undecided. Firmware that does not run, or a QEMU
/// that cannot start KVM, is TCG for certain.
public struct QEMUAcceleratorProbe: AcceleratorProbe {
    public var timeout: Duration
    public var scratchDirectory: String
    var runner: any CommandRunner

    public init(timeout: Duration = QEMUAcceleratorProbe.defaultTimeout, scratchDirectory: String = NSTemporaryDirectory(),
                runner: any CommandRunner = HostCommandRunner()) {
        self.timeout = timeout
        self.scratchDirectory = scratchDirectory
        self.runner = runner
    }

    /// How long the probe's KVM guest may take to print "Linux version" (with earlyprintk). A run's own KVM
    /// boots wait longer before they fall back (`RunEngine.silentConsoleTimeout`): they log later.
    public static let defaultTimeout: Duration = .seconds(6)

    public func probe(kernel: String?) async -> AcceleratorAnswer {
        guard FileManager.default.isWritableFile(atPath: "/dev/kvm") else { return AcceleratorAnswer(.tcg, "/dev/kvm is missing or not writable") }
        let output = scratchDirectory + "/netrig-kvm-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { try? FileManager.default.removeItem(atPath: output) }
        var arguments = ["-accel", "kvm", "-machine", "q35", "-m", "256", "-nodefaults", "-display", "none", "-monitor", "none",
                         "-no-reboot"]
        let marker: String
        if let kernel {
            arguments += ["-serial", "file:\(output)", "-kernel", kernel, "-append", "console=ttyS0 panic=-1 earlyprintk=serial"]
            marker = "Linux version"
        } else {
            arguments += ["-serial", "none", "-chardev", "file,id=dbg,path=\(output)", "-device", "isa-debugcon,iobase=0x402,chardev=dbg"]
            marker = "SeaBIOS"
        }
        let command = HostCommand("qemu-system-x86_64", arguments)
        let task = Task { [runner, timeout] in try await runner.run(command, timeout: timeout) }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: output, encoding: .utf8), text.contains(marker) {
                task.cancel()
                _ = await task.result
                if kernel == nil {
                    return AcceleratorAnswer(nil, "KVM ran the firmware, but no kernel was tried: nested guests can hang after the firmware, "
                                             + "so only a kernel that boots decides (the first run probes with its baseline kernel)")
                }
                return AcceleratorAnswer(.kvm, "a KVM guest booted the kernel")
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        task.cancel()
        let result = await task.result
        if case .success(let finished) = result, !finished.succeeded {
            return AcceleratorAnswer(.tcg, "qemu -accel kvm failed: \(finished.standardError.lastLines(1).first ?? "")")
        }
        if kernel == nil { return AcceleratorAnswer(.tcg, "the firmware printed nothing under KVM within \(timeout)") }
        return AcceleratorAnswer(.tcg, "a KVM guest printed nothing within \(timeout) (nested virtualization hangs here)")
    }
}
