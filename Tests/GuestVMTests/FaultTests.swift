import Foundation
import HostCommands
import Libvirt
import NetrigCore
import NetrigTestSupport
import Testing
@testable import GuestVM
@testable import Workloads

/// Faults in a real guest, each injected for real: a key the guest refuses, a workload beyond its timeout,
/// a page pool stalled at shutdown, the OOM killer. Each is named (guest, workload), the kernel's own
/// words are found, and no domain is left behind.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct GuestFaultTests {
    let fixtures = HostFixtures.shared

    func domainsLeft(_ name: String) async throws -> [String] {
        let connection = try await LibvirtConnection(uri: fixtures.libvirtURI)
        let active = try await connection.activeDomainNames()
        await connection.close()
        return active.filter { $0.hasPrefix("netrig-\(name)-\(getpid())") }
    }

    /// A workload file with one client step (argv as TOML basic strings, JSON-escaped).
    func workload(_ name: String, client: [String], timeout: Int) throws -> WorkloadDefinition {
        let argv = String(decoding: try JSONEncoder().encode(client), as: UTF8.self)
        return try WorkloadCatalog.parse("""
            name = "\(name)"
            topologies = ["loop"]
            nics = ["netdevsim", "veth"]
            timeout = \(timeout)
            client = \(argv)
            [[metrics]]
            name = "never"
            unit = "1"
            pattern = 'never=(\\d+)'
            """, path: "\(name).toml")
    }

    /// A cached guest image that changed since it was made (cut short, or its superblock overwritten) is found
    /// before a guest boots from it; an intact copy passes. (Copies of the real image.)
    @Test func aDamagedCachedImageIsFound() async throws {
        let image = try await fixtures.guestImage()
        let scratch = fixtures.scratchDirectory("image-damage")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let runner = HostCommandRunner()
        func copy(_ name: String) async throws -> String {
            let path = scratch + "/" + name
            let cp = try await runner.run(HostCommand("cp", ["--sparse=always", image, path]), timeout: .seconds(120))
            try #require(cp.succeeded, "\(cp.standardError)")
            try RecipeImageProvider.stamp(path)
            return path
        }
        let intact = try await copy("intact.ext4")
        #expect(await RecipeImageProvider.damage(of: intact, runner: runner) == nil)

        let short = try await copy("short.ext4")
        let truncate = try await runner.run(HostCommand("truncate", ["-s", "800M", short]))
        try #require(truncate.succeeded)
        let shortDamage = try #require(await RecipeImageProvider.damage(of: short, runner: runner))
        #expect(shortDamage.contains("size 838860800"), "\(shortDamage)")

        // The primary superblock zeroed, and the stamp renewed: only the file system check can tell.
        let zeroed = try await copy("zeroed.ext4")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: zeroed))
        try handle.seek(toOffset: 1024)
        try handle.write(contentsOf: Data(count: 1024))
        try handle.close()
        try RecipeImageProvider.stamp(zeroed)
        let zeroedDamage = try #require(await RecipeImageProvider.damage(of: zeroed, runner: runner))
        #expect(zeroedDamage.contains("e2fsck"), "\(zeroedDamage)")

        // An image from before stamps were written gets one when it checks clean.
        try FileManager.default.removeItem(atPath: RecipeImageProvider.stampPath(intact))
        #expect(await RecipeImageProvider.damage(of: intact, runner: runner) == nil)
        #expect(FileManager.default.fileExists(atPath: RecipeImageProvider.stampPath(intact)))
    }

    /// SSH answers but refuses the key: reported at once as an authentication failure of that guest,
    /// not after the boot timeout as "did not answer".
    @Test func aKeyTheGuestRefusesIsNamedAtOnce() async throws {
        let scratch = fixtures.scratchDirectory("wrong-key")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let key = scratch + "/id_ed25519"
        let keygen = try await HostCommandRunner().run(HostCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]),
                                                       timeout: .seconds(30))
        try #require(keygen.exitStatus == 0, "\(keygen.standardError)")
        let spec = try await fixtures.guestSpec("wrong-key", links: [])
        defer { try? FileManager.default.removeItem(atPath: spec.workDirectory) }
        do {
            _ = try await LibvirtGuestLauncher(uri: fixtures.libvirtURI, privateKey: key).withGuest(spec) { _ in
                Issue.record("logged in with a key the image does not authorize")
            }
        } catch let error as NetrigError {
            #expect(error.message.hasPrefix("SSH authentication failed"), "\(error)")
            #expect(error.subject == "guest wrong-key" && error.blame == .infrastructure)
        }
        #expect(try await domainsLeft("wrong-key").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: spec.workDirectory + "/disk.qcow2"), "the overlay is removed")
    }

    /// One guest, three faults in turn: a client that outlives its timeout; a netdevsim pool orphaned
    /// while `pp_hold` keeps a page, which the kernel reports after 60 s as a stalled pool shutdown; and a
    /// client the OOM killer ends. The splat detector finds the kernel's real words for the last two.
    @Test func aHungClientAStalledPoolAndTheOOMKillerAreEachReported() async throws {
        let kernel = try await fixtures.defaultKernel()
        let link = NetworkLink(model: .netdevsim, topology: .loop)
        let spec = try await fixtures.guestSpec("faults", links: [link])
        defer { try? FileManager.default.removeItem(atPath: spec.workDirectory) }
        let launcher = LibvirtGuestLauncher(uri: fixtures.libvirtURI, privateKey: fixtures.directories.sshKey)
        let runner = GuestWorkloadRunner()
        try await launcher.withGuest(spec) { guest in
            try await guest.upload(try #require(kernel.programs["ynl"]), to: "/root/netrig/ynl", mode: 0o644)
            #expect(try await PagePoolProbe.install(on: guest))

            // 1. A client beyond its timeout.
            do {
                _ = try await runner.run(try workload("hang", client: ["sleep", "600"], timeout: 5), side: .patched,
                                         link: link, programs: [:], repetitions: 1, on: [guest])
                Issue.record("a client that sleeps 600 s finished within 5 s")
            } catch let error as NetrigError {
                #expect(error.message.contains("exceeded its timeout of 5"), "\(error)")
                #expect(error.subject == "workload hang (default) on guest faults" && error.isCode(.workloadFailed))
            }

            // 2. The peer end holds a page of its pool (pp_hold) when its namespace is deleted: the device
            // goes back to the initial namespace (closed, so its pool is destroyed) and the namespace's
            // loopback, which had taken the pool over, goes away. An orphaned pool with a page in flight:
            // the kernel reports "stalled pool shutdown" after 60 s. A real splat.
            _ = try await LinkSetup.wire(link, on: [guest])
            let knob = "/sys/kernel/debug/netdevsim/netdevsim\(LinkSetup.netdevsimIDs(link).1)/ports/0/pp_hold"
            let stall = try await guest.runScript("""
                echo y > \(knob) || exit 1
                ip netns del \(link.peerNamespace)
                for i in $(seq 1 90); do dmesg | grep -q 'stalled pool shutdown' && break; sleep 1; done
                dmesg; echo n > \(knob)
                """, timeout: .seconds(180))
            let splats = SplatDetector.detect(stall.standardOutput, side: .patched)
            let stalled = try #require(splats.first { $0.kind == .stalledPool }, "\(stall.standardOutput.lastLines(5))")
            #expect(stalled.title.contains("page_pool_release_retry() stalled pool shutdown") && stalled.title.contains("1 inflight"),
                    "\(stalled.title)")
            #expect(stalled.kind.isPagePool)

            // 3. The OOM killer ends the client; its console and dmesg say so.
            do {
                let hog = try workload("hog", client: ["python3", "-c", "a = []\nwhile True: a.append(b'x' * (16 << 20))"], timeout: 300)
                _ = try await runner.run(hog, side: .patched, link: link, programs: [:], repetitions: 1, on: [guest])
                Issue.record("a client that allocates without end finished")
            } catch let error as NetrigError {
                #expect(error.message == "step 'client' was killed by signal KILL", "\(error)")
            }
            let salvaged = await KernelCollector().salvage(on: guest, side: .patched)
            #expect(salvaged.splats.contains { $0.kind == .oom && $0.title == "Out of memory: Killed process … (python3)" },
                    "\(salvaged.splats.map(\.title))")
        }
        #expect(try await domainsLeft("faults").isEmpty)
    }
}
