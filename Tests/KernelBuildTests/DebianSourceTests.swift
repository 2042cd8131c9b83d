import Foundation
import NetrigTestSupport
import Testing
@testable import KernelBuild
@testable import NetrigCore

/// Debian unstable's kernel source, fetched for real into a scratch cache with apt and a private
/// configuration: the system's sources, lists and package state stay as they were.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct DebianSourceTests {
    @Test func linux72IsFetchedWithAPrivateAptStateAndTheSystemsAptIsUntouched() async throws {
        let fixtures = HostFixtures.shared
        let scratch = fixtures.scratchDirectory("debian-source")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fm = FileManager.default
        let systemLists = { Set((try? fm.contentsOfDirectory(atPath: "/var/lib/apt/lists")) ?? []) }
        let listsBefore = systemLists()
        // Every file of the system's apt configuration, with its contents (Debian 12 may use sources.list.d only).
        let systemConfiguration = { () -> [String: String] in
            let paths = (fm.enumerator(atPath: "/etc/apt")?.allObjects as? [String]) ?? []
            return Dictionary(uniqueKeysWithValues: paths.map { ($0, (try? String(contentsOfFile: "/etc/apt/" + $0, encoding: .utf8)) ?? "") })
        }
        let configurationBefore = systemConfiguration()
        let source = DebianSource(directories: NetrigDirectories(cache: scratch + "/cache", data: scratch + "/data"))
        let progress = RecordingProgress()
        let tarball = try await source.tarball(for: .debian72, progress: progress)
        #expect(tarball.hasPrefix(scratch + "/cache/debian/unstable/packages/"), "\(tarball)")
        let size = (try fm.attributesOfItem(atPath: tarball)[.size] as? NSNumber)?.intValue ?? 0
        #expect(size > 100 << 20, "the whole source tarball: \(size) bytes")
        #expect(progress.lines.contains { $0.contains("apt-get download linux-source-7.2") })
        #expect(systemLists() == listsBefore, "no list of the unstable suite in the system's apt state")
        #expect(systemConfiguration() == configurationBefore, "the system's sources and apt.conf.d are as they were")
        #expect(!systemLists().contains { $0.contains("unstable") })
        let config = try String(contentsOfFile: scratch + "/cache/debian/unstable/apt.conf", encoding: .utf8)
        #expect(config.contains("Dir::Etc::parts \"\(scratch)/cache/debian/unstable/empty\""), "the system's apt.conf.d is not read")
        // The package goes once the import no longer needs it; the lists stay for the next fetch.
        source.discardFetched(.debian72)
        #expect(!fm.fileExists(atPath: tarball))
        #expect(fm.fileExists(atPath: scratch + "/cache/debian/unstable/lists"))
    }
}
