// swift-tools-version: 6.2
import PackageDescription

// Layering (see docs/ARCHITECTURE.md): NetrigCore holds the domain and the run engine and imports no
// adapter. Adapters (KernelBuild, GuestVM, GuestShell, Workloads, RunStore) depend on it; only
// NetrigCommands wires real adapters together.
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "netrig",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "netrig", targets: ["netrig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        // 1.16: LogHandler.log(event:), which the tests' capturing handler implements.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages, found by pkg-config.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(name: "CLibssh", pkgConfig: "libssh", providers: [.apt(["libssh-dev"])]),

        // Thin, faithful wrappers: they know nothing about kernels.
        .target(name: "Libvirt", dependencies: ["CLibvirt"], swiftSettings: strict),
        .target(name: "LibSSH", dependencies: ["CLibssh"], swiftSettings: strict),

        // The domain: types, ports, run engine, statistics. No C, no I/O libraries.
        .target(name: "NetrigCore", swiftSettings: strict),

        // Host commands as argv arrays with reproducers, logs to files and timeouts.
        .target(name: "HostCommands", dependencies: [
            "NetrigCore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Subprocess", package: "swift-subprocess"),
            .product(name: "SystemPackage", package: "swift-system"),
        ], swiftSettings: strict),

        // Exclusive locks between netrig processes on one host (builds, store migrations).
        .target(name: "FileLocks", swiftSettings: strict),

        // SHA-256 as hex text (cache keys, image names, patch hashes), from swift-crypto.
        .target(name: "Digests", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),

        // Adapters.
        .target(name: "KernelBuild", dependencies: [
            "NetrigCore", "HostCommands", "FileLocks", "Digests", .product(name: "TOMLKit", package: "TOMLKit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        .target(name: "GuestShell", dependencies: ["NetrigCore", "LibSSH"], swiftSettings: strict),
        .target(name: "GuestVM", dependencies: [
            "NetrigCore", "Libvirt", "HostCommands", "GuestShell", "Digests",
            .product(name: "TOMLKit", package: "TOMLKit"), .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "Workloads", dependencies: [
            "NetrigCore", .product(name: "TOMLKit", package: "TOMLKit"),
        ], swiftSettings: strict),
        .target(name: "RunStore", dependencies: [
            "NetrigCore", "FileLocks", .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),

        // The command tree: the only place where real adapters are wired together.
        .target(name: "HTMLReport", dependencies: ["NetrigCore"], swiftSettings: strict),
        .target(name: "NetrigCommands", dependencies: [
            "NetrigCore", "HostCommands", "KernelBuild", "GuestVM", "GuestShell", "Workloads", "RunStore", "HTMLReport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .executableTarget(name: "netrig", dependencies: ["NetrigCommands", .product(name: "Logging", package: "swift-log")],
                          swiftSettings: strict),

        // Shared set-up for tests against the real host: the default kernel and guest image, built once.
        .target(name: "NetrigTestSupport", dependencies: ["NetrigCore", "KernelBuild", "GuestVM", "Workloads"],
                path: "Tests/NetrigTestSupport"),

        // Fakes behind the ports, shared by the unit tests of the engine, the builder and the commands: the
        // engine's ports, an in-memory store, host commands answered from a script (an unscripted one fails the test).
        .target(name: "NetrigFakes", dependencies: ["NetrigCore", "HostCommands"], path: "Tests/NetrigFakes", swiftSettings: strict),

        .testTarget(name: "NetrigCoreTests", dependencies: ["NetrigCore", "NetrigFakes"]),
        .testTarget(name: "KernelBuildTests", dependencies: ["KernelBuild", "HostCommands", "NetrigCore", "NetrigTestSupport", "NetrigFakes",
                                                           .product(name: "Crypto", package: "swift-crypto"),
                                                           .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "GuestVMTests", dependencies: ["GuestVM", "GuestShell", "Libvirt", "LibSSH", "HostCommands", "NetrigCore",
                                                       "Workloads", "NetrigTestSupport"]),
        .testTarget(name: "WorkloadsTests", dependencies: ["Workloads", "NetrigCore"]),
        .testTarget(name: "RunStoreTests", dependencies: ["RunStore", "NetrigCore", "NetrigFakes"]),
        .testTarget(name: "NetrigCommandsTests", dependencies: ["NetrigCommands", "NetrigCore", "NetrigFakes", "KernelBuild", "GuestVM", "RunStore",
                                                              "HostCommands"]),
        .testTarget(name: "HTMLReportTests", dependencies: ["HTMLReport", "NetrigCore"]),
        .testTarget(name: "EndToEndTests", dependencies: ["RunStore", "NetrigCore", "HostCommands", "HTMLReport", "GuestVM", "NetrigTestSupport"]),
    ]
)
