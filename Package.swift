// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "goloadtest",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "goloadtest", targets: ["goloadtest"])
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: []),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // The record: runs, slaves, summary windows, histograms, and the SQLite database.
        .target(
            name: "Store",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's own calls, for the one loop that reads every window of a run.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                // How status codes and failure kinds are stored (Protos/store/counts.proto).
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        // The HTTP load engine: NIO connections over TCP or TLS, HTTP/1.1 and HTTP/2, windows. No gRPC.
        .target(
            name: "Engine",
            dependencies: [
                "Store",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The protocol between master and slaves: result.proto's generated Swift, and its windows.
        .target(
            name: "Protocol",
            dependencies: [
                "Store",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        // The master and the slave, over gRPC (plaintext or TLS), and both in one process.
        .target(
            name: "Cluster",
            dependencies: [
                "Store", "Engine", "Protocol",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Pure functions from stored rows to reports, and their renderers.
        .target(
            name: "Report",
            dependencies: ["Store", .product(name: "CSV", package: "CSV.swift")],
            swiftSettings: strict
        ),
        // The master's web surface: the live page, reports as HTML and JSON, Prometheus metrics.
        .target(
            name: "Web",
            dependencies: [
                "Store", "Report", "Cluster",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
        // A small HTTP/1.1 server to aim load at in demos and tests.
        .target(
            name: "Target",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "goloadtest",
            dependencies: [
                "Store", "Engine", "Cluster", "Report", "Target", "Web",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ],
            swiftSettings: strict
        ),
        // Benchmark: durable window ingest through the store (bench/ingest.sh).
        .executableTarget(
            name: "IngestBench",
            dependencies: ["Store", .product(name: "Logging", package: "swift-log")],
            path: "bench/IngestBench",
            swiftSettings: strict
        ),
        // Benchmark: a swarm of simulated slaves against a real master (bench/swarm.sh).
        .executableTarget(
            name: "SwarmBench",
            dependencies: [
                "Store", "Protocol",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            path: "bench/SwarmBench",
            swiftSettings: strict
        ),
        // What the test targets share: timeouts, polling, a deterministic generator.
        .target(name: "TestKit", path: "Tests/TestKit", swiftSettings: strict),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestKit"], swiftSettings: strict),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "Engine", "Store", "Target", "TestKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ClusterTests",
            dependencies: [
                "Cluster", "Engine", "Protocol", "Store", "Target", "TestKit",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Store", "TestKit"], swiftSettings: strict),
        .testTarget(name: "WebMetricsTests", dependencies: ["Web", "Store"], swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "goloadtest", "Store", "Protocol", "TestKit",
                // A hostile peer that speaks only the proto, against the real binary.
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
    ]
)
