// swift-tools-version: 6.0
// Builds the two protoc plugins that `make generate` uses. Kept apart from the main package so
// that `swift build` never compiles them.
import PackageDescription

let package = Package(
    name: "ProtocPlugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ],
    targets: []
)
