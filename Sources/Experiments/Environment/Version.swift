import RNNCore

/// The tool's version, written into every run's `environment` file and the report.
public enum RNNExpVersion {
    public static let string = "0.1.0"

    /// Version line: the tool and the BLAS kernels in use.
    public static var versionText: String {
        "rnn-exp \(string) (BLAS: \(BLASRuntime.libraryName), core \(BLASRuntime.coreName))"
    }
}
