import Foundation
import GuestVM
import KernelBuild
import NetrigFakes
import RunStore
import Testing
import Workloads
@testable import NetrigCommands
@testable import NetrigCore

/// The composition root: what `NetrigContext.live` builds from the options and the environment.
@Suite struct WiringTests {
    func live(_ arguments: [String], environment: [String: String] = [:]) throws -> NetrigContext {
        let global = try GlobalOptions.parse(arguments)
        return NetrigContext.live(global, environment: ["HOME": "/home/someone"].merging(environment) { $1 })
    }

    @Test func theStoreComesFromTheOptionThenTheEnvironmentThenXDG() throws {
        #expect(try live(["--store", "/x/s.sqlite"], environment: ["NETRIG_STORE": "/env/s.sqlite"]).storePath == "/x/s.sqlite")
        #expect(try live([], environment: ["NETRIG_STORE": "/env/s.sqlite"]).storePath == "/env/s.sqlite")
        #expect(try live([], environment: ["XDG_DATA_HOME": "/data"]).storePath == "/data/netrig/netrig.sqlite")
        #expect(try live([]).storePath == "/home/someone/.local/share/netrig/netrig.sqlite")
        // Pages and boot directories live beside the store.
        let context = try live(["--store", "/x/s.sqlite"])
        #expect(context.pagesDirectory == "/x/html" && context.runsDirectory == "/x/runs")
    }

    @Test func theLibvirtURIComesFromTheOptionThenTheEnvironment() throws {
        #expect(try live(["--libvirt-uri", "qemu+ssh://h/system"], environment: ["NETRIG_LIBVIRT_URI": "qemu:///session"]).libvirtURI == "qemu+ssh://h/system")
        #expect(try live([], environment: ["NETRIG_LIBVIRT_URI": "qemu:///session"]).libvirtURI == "qemu:///session")
        #expect(try live([]).libvirtURI == "qemu:///system")
    }

    /// Every verb's engine is wired the same way: the real adapters, the context's URI and directories.
    @Test func theEngineIsWiredWithTheRealAdapters() throws {
        let directory = Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let context = try live(["--store", directory + "/netrig.sqlite", "--libvirt-uri", "qemu+ssh://fleet/system"],
                               environment: ["XDG_CACHE_HOME": directory + "/cache"])
        let store = try context.openStore()
        #expect(store is SQLiteRunStore && FileManager.default.fileExists(atPath: directory + "/netrig.sqlite"))
        let engine = try context.engine(store: store, keep: true)
        #expect(engine.kernel is LocalKernelPipeline && engine.images is RecipeImageProvider && engine.collector is KernelCollector)
        #expect(engine.workloads is GuestWorkloadRunner && engine.accelerators is CachedAcceleratorProbe)
        let launcher = try #require(engine.guests as? LibvirtGuestLauncher)
        #expect(launcher.uri == "qemu+ssh://fleet/system" && launcher.keep)
        #expect(launcher.privateKey == "/home/someone/.local/share/netrig/ssh/id_ed25519", "the key lives with the data, not the cache")
        #expect(engine.concurrentMeasurements == (ProcessInfo.processInfo.activeProcessorCount >= 4))
        #expect(engine.workDirectory(7, .patched) == directory + "/runs/7/patched")
        let probe = try #require(try context.probe() as? CachedAcceleratorProbe)
        #expect(probe.file.hasPrefix(directory + "/cache/netrig/"))
    }
}
