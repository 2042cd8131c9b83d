import Foundation
import GuestVM
import HostCommands
import KernelBuild
import NetrigCore
import RunStore
import Workloads

extension NetrigContext {
    /// The real adapters: SQLite, libvirt, the kernel pipeline, the image recipe, the kept KVM probe, the
    /// guests' SSH, the terminal. The only place where they are put together.
    static func live(_ global: GlobalOptions, environment: [String: String]) -> NetrigContext {
        let layout = ProjectLayout.locate(environment: environment)
        let directories = NetrigDirectories(environment: environment)
        let storePath = global.store ?? environment["NETRIG_STORE"] ?? directories.defaultStore
        let uri = global.libvirtURI ?? environment["NETRIG_LIBVIRT_URI"] ?? GlobalOptions.defaultLibvirtURI
        let progress = TerminalProgress()
        let commands = HostCommandRunner()
        let launcher = { @Sendable (keep: Bool) in
            LibvirtGuestLauncher(uri: uri, privateKey: directories.sshKey, keep: keep,
                                 keptGuests: KeptGuestRegistry(directory: directories.keptGuests), progress: progress, runner: commands)
        }
        return NetrigContext(
            layout: layout, directories: directories, storePath: storePath, libvirtURI: uri,
            processorCount: ProcessInfo.processInfo.activeProcessorCount, progress: progress,
            standardOutput: { text in FileHandle.standardOutput.write(Data(text.utf8)) },
            standardError: { text in FileHandle.standardError.write(Data(text.utf8)) },
            commands: commands,
            openStore: { try SQLiteRunStore(path: storePath) },
            kernel: { LocalKernelPipeline(directories: directories, kconfigDirectory: layout.kconfigs, progress: progress, runner: commands) },
            images: { RecipeImageProvider(recipeDirectory: layout.defaultImage, directories: directories, runner: commands) },
            probe: { CachedAcceleratorProbe(inner: QEMUAcceleratorProbe(runner: commands), file: directories.acceleratorProbe) },
            launcher: launcher,
            hypervisor: { launcher(false) },
            workloads: { GuestWorkloadRunner(progress: progress) },
            collector: { KernelCollector() },
            workload: { name in try WorkloadCatalog(directory: layout.workloads).load(name) },
            config: { name in try ConfigCatalog(directory: layout.kconfigs).spec(named: name) },
            readSeries: { request in
                try await SeriesSource.load(path: request.path, range: request.range, tree: request.tree, revision: request.revision,
                                            runner: commands)
            },
            clock: { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 },
            timestamp: { SQLiteRunStore.timestamp() },
            isAlive: { owner in
                guard let owner, owner.host == ProcessInfo.processInfo.hostName else { return false }
                return kill(owner.pid, 0) == 0 || errno == EPERM
            })
    }
}
