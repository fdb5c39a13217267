// swift-tools-version:6.0
import PackageDescription

// MARK: - Platform BLAS
// Linux: Debian's OpenBLAS through pkg-config (`libopenblas-dev`, installed by the Makefile).
// macOS: Accelerate, imported directly by RNNCore; the CBLAS module is then unused.
let blasTargets: [Target] = [
    .systemLibrary(
        name: "CBLAS",
        path: "Sources/CBLAS",
        pkgConfig: "openblas",
        providers: [.apt(["libopenblas-dev"])]
    )
]

let package = Package(
    name: "rnn-exp",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "rnn-exp", targets: ["rnn-exp"]),
        .library(name: "RNNCore", targets: ["RNNCore"]),
        .library(name: "RNNDatasets", targets: ["RNNDatasets"]),
        .library(name: "Experiments", targets: ["Experiments"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: blasTargets + [
        // MARK: - Float32 kernels in C (AVX-512 or AVX2+FMA chosen at run time, portable fallback)
        .target(name: "RNNKernels", path: "Sources/RNNKernels"),

        // MARK: - Math core: tensors, layers, losses, BPTT, optimizers. No file I/O, no YAML.
        .target(
            name: "RNNCore",
            dependencies: ["RNNKernels", .target(name: "CBLAS", condition: .when(platforms: [.linux]))],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),

        // MARK: - RFC 4180 CSV: the reader (with line and column for errors) and the writer
        .target(name: "CSV"),

        // MARK: - Datasets: built-in tasks, CSV sequences, text streams. Depends on Core (and CSV) only.
        .target(name: "RNNDatasets", dependencies: ["RNNCore", "CSV"]),

        // MARK: - Experiments: YAML, validation, sweep grid, runner, results (CSV tables, safetensors), report.
        .target(
            name: "Experiments",
            dependencies: ["RNNCore", "RNNDatasets", "CSV", .product(name: "Yams", package: "Yams")]
        ),

        // MARK: - Command line (thin)
        .executableTarget(
            name: "rnn-exp",
            dependencies: ["Experiments", "RNNCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // MARK: - Tests
        // Shared test helpers (relative error, the seeded test generator, fixtures, the binary runner).
        .target(name: "RNNTestSupport", dependencies: ["RNNCore"], path: "Tests/RNNTestSupport"),
        .testTarget(name: "RNNCoreTests", dependencies: ["RNNCore", "RNNKernels", "RNNTestSupport"]),
        .testTarget(name: "RNNDatasetsTests", dependencies: ["RNNDatasets", "RNNCore", "RNNTestSupport"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "RNNCore", "RNNDatasets", "RNNTestSupport"],
                    exclude: ["Golden"]),
    ]
)
