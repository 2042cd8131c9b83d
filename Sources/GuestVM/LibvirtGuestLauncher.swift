import Foundation
import GuestShell
import HostCommands
import Libvirt
import Logging
import NetrigCore

/// Boots guests as transient libvirt domains and always destroys them: on success, on errors and on
/// cancellation; and libvirt destroys them itself if netrig dies (the domains are started with
/// VIR_DOMAIN_START_AUTODESTROY, tied to netrig's connection).
public struct LibvirtGuestLauncher: GuestLauncher {
    /// `qemu:///system` on this machine; `qemu+ssh://host/system` for another one.
    public var uri: String
    public var privateKey: String
    /// Leave the guest running after the body (for debugging with `netrig ssh`): the last guest of each
    /// name stays, an earlier one of the same name is destroyed when the next boots.
    public var keep: Bool
    /// Where kept guests are recorded for `netrig ssh`.
    public var keptGuests: KeptGuestRegistry?
    public var progress: any ProgressObserver
    var runner: any CommandRunner
    /// Each domain's XML file, creation and destruction, at debug level (`--verbose`).
    public var logger: Logger

    public init(uri: String, privateKey: String, keep: Bool = false, keptGuests: KeptGuestRegistry? = nil,
                progress: any ProgressObserver = SilentProgress(), runner: any CommandRunner = HostCommandRunner(),
                logger: Logger? = nil) {
        self.runner = runner
        self.logger = logger ?? Logger(label: "netrig.guests")
        self.keptGuests = keptGuests
        self.uri = uri
        self.privateKey = privateKey
        self.keep = keep
        self.progress = progress
    }

    public func hypervisorVersion() async throws -> String {
        let connection: LibvirtConnection
        do {
            connection = try await LibvirtConnection(uri: uri)
        } catch {
            throw NetrigError(blame: .infrastructure, subject: uri, message: "cannot connect to libvirt: \(error)",
                              details: ["fix: start the daemons (virtlogd -d; libvirtd -d) or check the URI (--libvirt-uri)"],
                              code: .hypervisorUnreachable, cause: error)
        }
        do {
            let version = try await connection.hypervisorVersion()
            await connection.close()
            return "QEMU " + version
        } catch {
            await connection.close()
            throw error
        }
    }

    public func unsupportedNICs(_ models: [NICModel]) async -> [NICModel: String] {
        let devices = models.compactMap(\.qemuDevice)
        guard !devices.isEmpty, LibvirtGuestLauncher.isLocal(uri) else { return [:] }
        // libvirt has no list of QEMU's device names; on this host, QEMU itself has.
        guard let help = try? await runner.run(HostCommand("qemu-system-x86_64", ["-device", "help"]), timeout: .seconds(30)),
              help.succeeded else { return [:] }
        let version = (try? await hypervisorVersion()) ?? "this QEMU"
        var missing: [NICModel: String] = [:]
        for model in models {
            guard let device = model.qemuDevice, !help.standardOutput.contains("name \"\(device)\"") else { continue }
            missing[model] = "\(version) has no '\(device)' device" + (model.minimumQEMU.map { " (it came with QEMU \($0))" } ?? "")
        }
        return missing
    }

    /// A connection URI that names this machine (the default, or qemu:///system and qemu:///session).
    static func isLocal(_ uri: String) -> Bool { uri.hasPrefix("qemu:///") }

    /// One booted guest: what tearing it down needs.
    private struct Started: Sendable {
        var spec: GuestSpec
        var domain: LibvirtDomain
        var session: SSHGuestSession
        var wiring: DomainWiring
    }

    public func withGuests<T: Sendable>(_ specs: [GuestSpec], _ body: ([any GuestSession]) async throws -> T) async throws -> T {
        guard let first = specs.first else { return try await body([]) }
        var ports = Set<Int>()
        let nics = try TestNIC.wiring(first.links) {
            var port = try LocalPorts.freeUDP()
            while ports.contains(port) { port = try LocalPorts.freeUDP() }
            ports.insert(port)
            return port
        }
        guard nics.count == specs.count else {
            throw NetrigError(blame: .infrastructure, subject: "guest \(first.name)",
                              message: "the \(first.links.first?.topology.rawValue ?? "") topology needs \(nics.count) guest(s), got \(specs.count)")
        }
        let connection: LibvirtConnection
        do {
            connection = try await LibvirtConnection(uri: uri)
        } catch {
            throw NetrigError(blame: .infrastructure, subject: uri, message: "cannot connect to libvirt: \(error)",
                              details: ["fix: start the daemons (virtlogd -d; libvirtd -d) or check the URI (--libvirt-uri)"],
                              code: .hypervisorUnreachable, cause: error)
        }
        // Boot all guests at once; when one fails, the others are torn down before the first error is thrown.
        let results = await withTaskGroup(of: (Int, Result<Started, any Error>).self) { group in
            for (index, spec) in specs.enumerated() {
                group.addTask {
                    do { return (index, .success(try await start(spec, testNICs: nics[index], connection: connection))) }
                    catch { return (index, .failure(error)) }
                }
            }
            var results: [(Int, Result<Started, any Error>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let started = results.compactMap { try? $0.get() }
        if let failure = results.lazy.compactMap({ result -> (any Error)? in
            if case .failure(let error) = result { return error } else { return nil }
        }).first {
            for guest in started { await teardown(guest) }
            await connection.close()
            throw failure
        }
        do {
            let result = try await body(started.map(\.session))
            for guest in started { await teardown(guest) }
            await connection.close()
            return result
        } catch {
            for guest in started { await teardown(guest) }
            await connection.close()
            throw error
        }
    }

    /// Creates the overlay and the domain and waits for SSH; on any failure the domain is destroyed and the
    /// overlay removed before the error is thrown.
    private func start(_ spec: GuestSpec, testNICs: [TestNIC], connection: LibvirtConnection) async throws -> Started {
        let fm = FileManager.default
        try fm.createDirectory(atPath: spec.workDirectory, withIntermediateDirectories: true)
        let wiring = DomainWiring(
            domainName: "netrig-\(spec.name)-\(getpid())-\(UInt16.random(in: 0...UInt16.max))",
            diskOverlay: spec.workDirectory + "/disk.qcow2", consoleLog: spec.workDirectory + "/console.log",
            sshPort: try LocalPorts.free(), testNICs: testNICs)
        if keep, let registry = keptGuests { await registry.destroy(name: spec.name) }
        let overlay = try await runner.run(HostCommand("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", spec.rootImage, wiring.diskOverlay]))
        guard overlay.succeeded else {
            throw NetrigError(blame: .infrastructure, subject: spec.rootImage,
                              message: "cannot create the disk overlay", details: overlay.standardError.lastLines(3))
        }
        try? fm.removeItem(atPath: wiring.consoleLog)
        let xml = DomainXML.render(spec, wiring: wiring)
        try xml.write(toFile: spec.workDirectory + "/domain.xml", atomically: true, encoding: .utf8)
        logger.debug("guest \(spec.name): creating (defining and starting) the transient domain \(wiring.domainName) on \(uri) from \(spec.workDirectory)/domain.xml, autodestroy \(keep ? "off" : "on")")
        let domain: LibvirtDomain
        do {
            domain = try await connection.createTransientDomain(xml: xml, autodestroy: !keep)
            logger.debug("guest \(spec.name): domain \(wiring.domainName) started; console \(wiring.consoleLog), SSH on port \(wiring.sshPort)")
        } catch {
            logger.debug("guest \(spec.name): libvirt could not create the domain \(wiring.domainName): \(error)")
            // A daemon that died during the call may have started QEMU without answering: the domain
            // exists under its name though this process holds no handle to it.
            let lost = !(await connection.isAlive())
            await destroy(named: wiring.domainName, created: false, of: spec, failure: error)
            try? fm.removeItem(atPath: wiring.diskOverlay)
            if lost { throw await libvirtFailure(error, spec: spec, connection: connection) }
            throw NetrigError(blame: .infrastructure, subject: "guest \(spec.name)",
                              message: "libvirt could not start the domain: \(error)", details: ["domain XML: \(spec.workDirectory)/domain.xml"],
                              code: spec.accelerator == .kvm ? .kvmStartFailed : .other, cause: error)
        }
        do {
            let session = try await waitForSSH(spec, wiring: wiring, domain: domain, connection: connection, started: ContinuousClock.now)
            if keep, let registry = keptGuests {
                try? registry.record(KeptGuest(name: spec.name, domain: domain.name, uri: uri, sshPort: wiring.sshPort,
                                               privateKey: privateKey, consoleLog: wiring.consoleLog, diskOverlay: wiring.diskOverlay))
            }
            return Started(spec: spec, domain: domain, session: session, wiring: wiring)
        } catch {
            await destroy(domain, of: spec)
            try? fm.removeItem(atPath: wiring.diskOverlay)
            throw error
        }
    }

    private func teardown(_ guest: Started) async {
        await guest.session.disconnect()
        if keep {
            progress.note("guest \(guest.spec.name) left running (--keep): netrig ssh \(guest.spec.name)")
            return
        }
        await destroy(guest.domain, of: guest.spec)
        try? FileManager.default.removeItem(atPath: guest.wiring.diskOverlay)
    }

    /// Destroys a domain, also when libvirtd died under it (QEMU outlives the daemon by design, and
    /// autodestroy needs the daemon): through a new connection when a daemon answers again, else, on this
    /// host, by stopping its QEMU process; on a remote host the command that does it is named.
    private func destroy(_ domain: LibvirtDomain, of spec: GuestSpec) async {
        logger.debug("guest \(spec.name): destroying the domain \(domain.name)")
        do { try await domain.destroy() } catch { await destroy(named: domain.name, created: true, of: spec, failure: error) }
    }

    /// What `destroy` does once the domain's own handle failed it, or when there is none (`created` false:
    /// the daemon died while creating it): look the name up on a new connection, else stop QEMU directly.
    private func destroy(named name: String, created: Bool, of spec: GuestSpec, failure: any Error) async {
        if let fresh = try? await LibvirtConnection(uri: uri) {
            let again = try? await fresh.domain(named: name)
            let destroyed = again == nil ? true : ((try? await again?.destroy()) != nil)
            await fresh.close()
            if destroyed { return }
        }
        if Self.isLocal(uri) {
            let pids = await OrphanedQEMU.stop(name)
            guard created || !pids.isEmpty else { return }
            progress.note("libvirt could not destroy guest \(spec.name) (\(failure)); "
                          + (pids.isEmpty ? "no QEMU process of \(name) is left" : "its QEMU process \(pids.map(String.init).joined(separator: ", ")) was stopped directly"))
        } else {
            progress.note("libvirt could not destroy guest \(spec.name) (\(failure)): it may still run; virsh -c \(uri) destroy \(name)")
        }
    }

    /// The error for a libvirt call that failed while guest `spec` booted: a lost connection (libvirtd
    /// stopped or restarted) says so and what to do.
    func libvirtFailure(_ error: any Error, spec: GuestSpec, connection: LibvirtConnection) async -> NetrigError {
        if await connection.isAlive() {
            return NetrigError(blame: .infrastructure, subject: "guest \(spec.name)",
                               message: "libvirt could not tell whether the guest runs: \(error)", cause: error)
        }
        return NetrigError(blame: .infrastructure, subject: uri,
                           message: "lost the connection to libvirt while guest \(spec.name) booted: \(error)",
                           details: ["libvirtd stopped or restarted; start it again (virtlogd -d; libvirtd -d) and resume the run (netrig run --resume RUN)"],
                           code: .hypervisorUnreachable, cause: error)
    }

    /// Polls the console twenty times a second and SSH once the SSH server is up, until SSH answers; a panic or a
    /// domain that stopped ends the wait at once with the console's last lines. Records when init started
    /// (its first console line) and when an authenticated SSH session stood, for the boot benchmark.
    func waitForSSH(_ spec: GuestSpec, wiring: DomainWiring, domain: LibvirtDomain, connection: LibvirtConnection,
                    started: ContinuousClock.Instant) async throws -> SSHGuestSession {
        var lastError = "no answer"
        var refusals = 0
        var initSeconds: Double?
        var reported = -1
        func since(_ start: ContinuousClock.Instant) -> Double {
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        while ContinuousClock.now - started < spec.bootTimeout {
            try Task.checkCancellation()
            let console = (try? String(contentsOfFile: wiring.consoleLog, encoding: .utf8)) ?? ""
            if console.contains("Kernel panic - not syncing") {
                throw bootFailure(spec, "the kernel panicked during boot", console: console)
            }
            let active: Bool
            do { active = try await domain.isActive() } catch {
                throw await libvirtFailure(error, spec: spec, connection: connection)
            }
            if !active {
                throw bootFailure(spec, "the guest stopped during boot", console: console)
            }
            if let silent = spec.silentConsoleTimeout, console.isEmpty, ContinuousClock.now - started >= silent {
                throw NetrigError(blame: .infrastructure, subject: "guest \(spec.name)",
                                  message: "the guest printed nothing on its console within \(silent) under KVM",
                                  details: ["nested KVM can hang after the firmware on hosts where /dev/kvm opens; --accel tcg avoids it",
                                            "console: \(spec.workDirectory)/console.log (empty)"],
                                  code: .consoleSilent)
            }
            if initSeconds == nil, console.contains("netrig: init") { initSeconds = since(started) }
            if console.contains("netrig: ssh ready") {
                do {
                    let session = try await SSHGuestSession.connect(name: spec.name, port: wiring.sshPort, privateKey: privateKey,
                                                                    consoleLog: wiring.consoleLog, bootSeconds: 0)
                    return session.booted(seconds: since(started), initSeconds: initSeconds)
                } catch where SSHGuestSession.isAuthenticationRefusal(error) {
                    // The server answers but refuses the key: waiting does not help. (Three tries: dropbear
                    // reads its authorized keys as it starts.)
                    refusals += 1
                    lastError = "\(error)"
                    if refusals >= 3 {
                        throw NetrigError(blame: .infrastructure, subject: "guest \(spec.name)",
                                          message: "SSH authentication failed: \(error)",
                                          details: ["netrig logs in as root with \(privateKey); the image authorizes that key's public half",
                                                    "a key replaced after the image was built: remove the cached images (netrig doctor shows where) and run again"],
                                          cause: error)
                    }
                    try await Task.sleep(for: .milliseconds(250))
                } catch {
                    lastError = "\(error)"
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
            let second = Int((ContinuousClock.now - started).components.seconds)
            if second != reported {
                reported = second
                progress.status("\(spec.name): booting (\(second) s)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let console = (try? String(contentsOfFile: wiring.consoleLog, encoding: .utf8)) ?? ""
        if console.contains("netrig: ssh ready") {
            throw NetrigError(blame: .infrastructure, subject: "guest \(spec.name)",
                              message: "the SSH server started but SSH did not answer within \(spec.bootTimeout): \(lastError)",
                              details: console.lastLines(5))
        }
        throw bootFailure(spec, "no SSH within \(spec.bootTimeout): the kernel hung before init finished", console: console)
    }

    func bootFailure(_ spec: GuestSpec, _ message: String, console: String) -> NetrigError {
        NetrigError(blame: spec.blameForKernel, subject: "guest \(spec.name)",
                    message: message, details: ["console: \(spec.workDirectory)/console.log"] + console.lastLines(15))
    }
}
