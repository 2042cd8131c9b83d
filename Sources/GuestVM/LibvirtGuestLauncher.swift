import Foundation
import GuestShell
import HostCommands
import Libvirt
import NetrigCore

/// Boots guests as transient libvirt domains and always destroys them: on success, on errors and on
/// cancellation; and libvirt destroys them itself if netrig dies (the domains are started with
/// VIR_DOMAIN_START_AUTODESTROY, tied to netrig's connection).
public struct LibvirtGuestLauncher: GuestLauncher {
    /// `qemu:///system` on this machine; `qemu+ssh://host/system` for another one.
    public var uri: String
    public var privateKey: String
    /// Leave the guest running after the body (for debugging with `netrig ssh`).
    public var keep: Bool
    public var progress: any ProgressObserver
    var runner = HostCommandRunner()

    public init(uri: String, privateKey: String, keep: Bool = false, progress: any ProgressObserver = SilentProgress()) {
        self.uri = uri
        self.privateKey = privateKey
        self.keep = keep
        self.progress = progress
    }

    public func hypervisorVersion() async throws -> String {
        let connection = try await LibvirtConnection(uri: uri)
        do {
            let version = try await connection.hypervisorVersion()
            await connection.close()
            return "QEMU " + version
        } catch {
            await connection.close()
            throw error
        }
    }

    public func withGuest<T: Sendable>(_ spec: GuestSpec, _ body: (any GuestSession) async throws -> T) async throws -> T {
        let fm = FileManager.default
        try fm.createDirectory(atPath: spec.workDirectory, withIntermediateDirectories: true)
        let wiring = DomainWiring(
            domainName: "netrig-\(spec.name)-\(getpid())-\(UInt16.random(in: 0...UInt16.max))",
            diskOverlay: spec.workDirectory + "/disk.qcow2", consoleLog: spec.workDirectory + "/console.log",
            sshPort: try LocalPorts.free())
        let overlay = try await runner.run(HostCommand("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", spec.rootImage, wiring.diskOverlay]))
        guard overlay.succeeded else {
            throw NetrigError(phase: spec.phase, blame: .infrastructure, subject: spec.rootImage,
                              message: "cannot create the disk overlay", details: overlay.standardError.lastLines(3))
        }
        defer { try? fm.removeItem(atPath: wiring.diskOverlay) }
        try? fm.removeItem(atPath: wiring.consoleLog)
        let xml = DomainXML.render(spec, wiring: wiring)
        try xml.write(toFile: spec.workDirectory + "/domain.xml", atomically: true, encoding: .utf8)

        let connection: LibvirtConnection
        do {
            connection = try await LibvirtConnection(uri: uri)
        } catch {
            throw NetrigError(phase: spec.phase, blame: .infrastructure, subject: uri, message: "cannot connect to libvirt: \(error)",
                              details: ["fix: start the daemons (virtlogd -d; libvirtd -d) or check the URI (--libvirt-uri)"])
        }
        let domain: LibvirtDomain
        do {
            domain = try await connection.createTransientDomain(xml: xml, autodestroy: !keep)
        } catch {
            await connection.close()
            throw NetrigError(phase: spec.phase, blame: .infrastructure, subject: "guest \(spec.name)",
                              message: "libvirt could not start the domain: \(error)", details: ["domain XML: \(spec.workDirectory)/domain.xml"])
        }
        let started = ContinuousClock.now
        do {
            let session = try await waitForSSH(spec, wiring: wiring, domain: domain, started: started)
            let result = try await body(session)
            await session.disconnect()
            await teardown(domain, connection: connection)
            return result
        } catch {
            await teardown(domain, connection: connection)
            throw error
        }
    }

    private func teardown(_ domain: LibvirtDomain, connection: LibvirtConnection) async {
        if keep {
            progress.note("guest \(domain.name) left running (--keep); destroy it with: virsh -c \(uri) destroy \(domain.name)")
            return
        }
        try? await domain.destroy()
        await connection.close()
    }

    /// Polls the console and SSH once a second until SSH answers; a panic or a domain that stopped ends the
    /// wait at once with the console's last lines.
    func waitForSSH(_ spec: GuestSpec, wiring: DomainWiring, domain: LibvirtDomain,
                    started: ContinuousClock.Instant) async throws -> SSHGuestSession {
        var lastError = "no answer"
        while ContinuousClock.now - started < spec.bootTimeout {
            try Task.checkCancellation()
            let console = (try? String(contentsOfFile: wiring.consoleLog, encoding: .utf8)) ?? ""
            if console.contains("Kernel panic - not syncing") {
                throw bootFailure(spec, "the kernel panicked during boot", console: console)
            }
            if !(try await domain.isActive()) {
                throw bootFailure(spec, "the guest stopped during boot", console: console)
            }
            if console.contains("netrig: ssh ready") {
                let elapsed = ContinuousClock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                do {
                    return try await SSHGuestSession.connect(name: spec.name, port: wiring.sshPort, privateKey: privateKey,
                                                             consoleLog: wiring.consoleLog, bootSeconds: seconds)
                } catch {
                    lastError = "\(error)"
                }
            }
            progress.status("\(spec.name): booting (\(Int((ContinuousClock.now - started).components.seconds)) s)")
            try await Task.sleep(for: .seconds(1))
        }
        let console = (try? String(contentsOfFile: wiring.consoleLog, encoding: .utf8)) ?? ""
        if console.contains("netrig: ssh ready") {
            throw NetrigError(phase: spec.phase, blame: .infrastructure, subject: "guest \(spec.name)",
                              message: "sshd started but SSH did not answer within \(spec.bootTimeout): \(lastError)",
                              details: console.lastLines(5))
        }
        throw bootFailure(spec, "no SSH within \(spec.bootTimeout): the kernel hung before init finished", console: console)
    }

    func bootFailure(_ spec: GuestSpec, _ message: String, console: String) -> NetrigError {
        NetrigError(phase: spec.phase, blame: spec.blameForKernel, subject: "guest \(spec.name)",
                    message: message, details: ["console: \(spec.workDirectory)/console.log"] + console.lastLines(15))
    }
}
