import Libvirt
import NetrigCore

extension CachedAcceleratorProbe: KeptAcceleratorProbe {}

extension LibvirtGuestLauncher: HypervisorQuery {
    public func versions() async throws -> (library: String, hypervisor: String) {
        let connection: LibvirtConnection
        do {
            connection = try await LibvirtConnection(uri: uri)
        } catch {
            throw NetrigError(phase: .configure, blame: .infrastructure, subject: uri, message: "cannot connect to libvirt: \(error)",
                              details: ["fix: start the daemons (virtlogd -d; libvirtd -d) or check the URI (--libvirt-uri)"])
        }
        do {
            let library = try await connection.libraryVersion()
            let hypervisor = try await connection.hypervisorVersion()
            await connection.close()
            return (library, "QEMU " + hypervisor)
        } catch {
            await connection.close()
            throw error
        }
    }
}
