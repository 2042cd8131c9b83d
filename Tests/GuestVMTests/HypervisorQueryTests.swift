import Foundation
import Testing
import NetrigCore
import NetrigTestSupport
@testable import GuestVM

/// `HypervisorQuery` against the real libvirt daemon: what `netrig doctor` shows, and the error it names
/// when the daemon is not there.
@Suite(.enabled(if: HostFixtures.enabled)) struct HypervisorQueryTests {
    @Test func theRealLibvirtNamesItsVersionsAndAnAbsentDaemonIsAnErrorNamingTheURI() async throws {
        let launcher = LibvirtGuestLauncher(uri: "qemu:///system", privateKey: "/nonexistent")
        let versions = try await launcher.versions()
        #expect(versions.library.split(separator: ".").count == 3, "\(versions.library)")
        #expect(versions.hypervisor.hasPrefix("QEMU "), "\(versions.hypervisor)")
        #expect(try await launcher.hypervisorVersion() == versions.hypervisor)
        let absent = LibvirtGuestLauncher(uri: "qemu+unix:///system?socket=/nonexistent/libvirt-sock", privateKey: "/nonexistent")
        await #expect { _ = try await absent.versions() } throws: { error in
            guard let error = error as? NetrigError else { return false }
            return error.subject == "qemu+unix:///system?socket=/nonexistent/libvirt-sock" && error.message.hasPrefix("cannot connect to libvirt")
        }
    }
}
