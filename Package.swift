// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "jadevectordb",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "jadevectordb", targets: ["jadevectordb"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C shims: shared-memory layout and atomics, posix_spawn with fd mapping, prctl, sockets.
        .target(name: "CJadeShm"),
        // Blocked AVX2/FMA scoring for batch search, chosen at run time.
        .target(name: "CJadeKernels"),
        // libsystemd (sd_notify, sd_listen_fds, sd_watchdog_enabled).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // libargon2 (Argon2id password hashing).
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),

        .target(name: "JadeCore", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .target(
            name: "JadeConfig", dependencies: ["JadeCore", .product(name: "Logging", package: "swift-log")]),
        .target(name: "JadeShared", dependencies: ["CJadeShm", "JadeCore"]),
        .target(
            name: "JadeStore",
            dependencies: [
                "JadeConfig", "JadeCore", "CJadeShm", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "JadeVectors",
            dependencies: [
                "JadeCore", "JadeConfig", "JadeStore", "CJadeKernels", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "JadeAuth",
            dependencies: [
                "JadeCore", "JadeConfig", "JadeShared", "JadeStore", "CArgon2", "CJadeShm",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HTTP/1.1 transport: accepting, connections, limits, backpressure, draining. Knows
        // nothing of routes, credentials or vectors (the application is an HTTPResponder).
        .target(
            name: "JadeTransport",
            dependencies: [
                "JadeCore", "CJadeShm", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The application: router, middleware chain, guards and routes.
        .target(
            name: "JadeHTTP",
            dependencies: [
                "JadeCore", "JadeConfig", "JadeShared", "JadeStore", "JadeAuth", "JadeVectors", "JadeTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "JadeWorker",
            dependencies: [
                "JadeCore", "JadeConfig", "JadeShared", "JadeStore", "JadeHTTP", "JadeTransport", "JadeAuth",
                "JadeVectors", "CJadeShm",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "JadeSupervisor",
            dependencies: ["JadeCore", "JadeConfig", "JadeShared", "JadeStore", "CJadeShm", "CSystemd"]
        ),
        // Online backup and verified restore of a data directory (SQLite snapshot + segment files).
        .target(
            name: "JadeBackup",
            dependencies: [
                "JadeConfig", "JadeCore", "JadeStore", "JadeVectors",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "JadeCLI",
            dependencies: [
                "JadeCore", "JadeConfig", "JadeStore", "JadeSupervisor", "JadeWorker", "JadeAuth", "JadeBackup",
                "JadeTransport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "jadevectordb", dependencies: ["JadeCLI"]),

        .testTarget(name: "JadeStoreTests", dependencies: ["JadeStore", "JadeConfig", "CJadeShm"]),
        .testTarget(name: "JadeAuthTests", dependencies: ["JadeAuth", "JadeStore", "JadeConfig", "JadeShared"]),
        .target(name: "CJadeShmTestSupport", dependencies: ["CJadeShm"], path: "Tests/CJadeShmTestSupport"),
        .testTarget(name: "JadeSharedTests", dependencies: ["JadeShared", "CJadeShm", "CJadeShmTestSupport"]),
        .testTarget(
            name: "JadeVectorsTests",
            dependencies: ["JadeVectors", "JadeStore", "JadeConfig", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "JadeConfigTests", dependencies: ["JadeConfig", "JadeCore"]),
        .testTarget(name: "JadeSupervisorTests", dependencies: ["JadeSupervisor", "JadeConfig", "JadeCore"]),
        .testTarget(
            name: "JadeBackupTests",
            dependencies: [
                "JadeBackup", "JadeVectors", "JadeStore", "JadeConfig", .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(name: "JadeCLITests", dependencies: ["JadeCLI", "JadeConfig"]),
        .testTarget(
            name: "JadeHTTPTests",
            dependencies: [
                "JadeHTTP", "JadeTransport", "JadeShared", "JadeCore", "JadeConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"), "JadeAuth", "JadeStore",
            ]),
        .testTarget(
            name: "JadeTransportTests",
            dependencies: [
                "JadeTransport", "JadeCore", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "CJadeTestSupport", path: "Tests/CJadeTestSupport"),
        // Depends on the executable so that `swift test` (which builds first) never runs the
        // integration tests against a stale binary.
        .testTarget(name: "IntegrationTests", dependencies: ["CJadeTestSupport", "JadeAuth", "jadevectordb"]),

        // Benchmarks: separate executables, never linked into jadevectordb. Run them through their
        // scripts (scripts/bench-*.sh), which build them in release.
        .executableTarget(
            name: "jade-bench-ratelimit", dependencies: ["JadeShared", "CJadeShm"],
            path: "Benchmarks/jade-bench-ratelimit"),
        // `scripts/bench-metrics.sh`: recording cost (counter, histogram) and scrape time over 8 workers.
        .executableTarget(
            name: "jade-bench-metrics", dependencies: ["JadeShared", "CJadeShm"],
            path: "Benchmarks/jade-bench-metrics"),
        // `scripts/bench-auth.sh`: permission checks, authentication on a warm cache, Argon2id.
        .executableTarget(
            name: "jade-bench-auth",
            dependencies: [
                "JadeAuth", "JadeStore", "JadeConfig", "JadeShared", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/jade-bench-auth"),
        // `scripts/bench-store.sh`: overhead of the retry and circuit-breaker wrapper on a point read.
        .executableTarget(
            name: "jade-bench-store",
            dependencies: [
                "JadeStore", "JadeShared", "CJadeShm", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/jade-bench-store"),
        // `scripts/bench-vectors.sh` builds this in release and compares its in-process exact
        // search with faiss and numpy.
        .executableTarget(
            name: "jade-bench-vectors", dependencies: ["JadeVectors", "JadeStore", "JadeConfig"],
            path: "Benchmarks/vector-search/JadeBenchVectors"),
    ]
)

// Every target builds in the Swift 6 language mode (complete concurrency checking).
// Benchmark executables (top-level code sharing state with their measured closures) and test
// targets (the Swift Testing macros of this toolchain do not build in the Swift 6 mode here)
// stay in the Swift 5 mode.
for target in package.targets where target.name.hasPrefix("jade-bench") || target.type == .test {
    target.swiftSettings = (target.swiftSettings ?? []) + [.swiftLanguageMode(.v5)]
}
