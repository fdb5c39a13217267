// swift-tools-version:6.0
import PackageDescription

// Benchmarks live in their own package (swift-collections' Benchmarks/ pattern): `swift test` in
// the root never builds them, and they always build in release (`make bench`). tbptt-bench runs
// the workloads through the engine; peak-fma measures the CPU's single-thread peak.
let package = Package(
    name: "rnn-exp-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "rnn-exp", path: "..")],
    targets: [
        .executableTarget(
            name: "tbptt-bench",
            dependencies: [.product(name: "RNNCore", package: "rnn-exp"), .product(name: "Experiments", package: "rnn-exp")]
        ),
        // Single-thread FMA peak of the CPU (C, AVX2 / AVX-512 chosen at run time): the ceiling
        // that `run_bench.py` measures the large workload's GFLOP/s against.
        .executableTarget(name: "peak-fma"),
    ]
)
