// swift-tools-version:6.0
import PackageDescription

// Benchmarks live in their own package (swift-collections' Benchmarks/ pattern): `swift test` in
// the root never builds them, and they always build in release (`make bench`).
let package = Package(
    name: "rnn-exp-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "rnn-exp", path: "..")],
    targets: [
        .executableTarget(
            name: "tbptt-bench",
            dependencies: [.product(name: "RNNCore", package: "rnn-exp")]
        )
    ]
)
