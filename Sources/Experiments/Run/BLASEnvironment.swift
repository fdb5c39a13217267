import Foundation
import RNNCore

/// Process set-up for OpenBLAS, which reads its settings from the environment once, when the
/// library loads (before `main`): so the tool sets them and re-executes itself.
///
/// - `OPENBLAS_NUM_THREADS=1` when unset: parallelism comes from grid points side by side, and
///   idle BLAS threads would only spin.
/// - `OPENBLAS_CORETYPE` when unset and the library fell back to a generic kernel set: Debian's
///   OpenBLAS 0.3.21 does not recognise recent CPUs under virtualisation and picks `Prescott`
///   (SSE3), 2–4× slower than the AVX2/AVX-512 kernels the CPU has. The choice never names a
///   kernel set whose instructions the CPU (as the kernel reports it) lacks.
public enum BLASEnvironment {
    /// Kernel sets OpenBLAS falls back to when it does not recognise a CPU.
    static let genericCores: Set<String> = ["Prescott", "Katmai", "Coppermine", "Northwood", "Core2", "Penryn",
                                            "Dunnington", "Nehalem", "Atom", "Banias", "unknown"]

    /// The kernel set to ask for, or nil to keep what OpenBLAS detected.
    public static func chooseCoreType(detected: String, cpuFlags: Set<String>) -> String? {
        guard genericCores.contains(detected) else { return nil }
        if cpuFlags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]) { return "SkylakeX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        if cpuFlags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// CPU feature flags the Linux kernel reports (empty elsewhere).
    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// Sets the variables above and re-executes the process when that changes anything; returns
    /// when nothing needs changing (or re-execution is impossible).
    public static func prepareProcess() {
        #if os(Linux)
        let env = ProcessInfo.processInfo.environment
        guard env["RNN_EXP_BLAS_PREPARED"] == nil else { return }
        var changes: [String: String] = [:]
        if env["OPENBLAS_NUM_THREADS"] == nil { changes["OPENBLAS_NUM_THREADS"] = "1" }
        if env["OPENBLAS_CORETYPE"] == nil,
           let core = chooseCoreType(detected: BLASRuntime.coreName, cpuFlags: cpuFlags()) {
            changes["OPENBLAS_CORETYPE"] = core
        }
        guard !changes.isEmpty else { return }
        for (k, v) in changes { setenv(k, v, 1) }
        setenv("RNN_EXP_BLAS_PREPARED", "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returned: keep going in this process with what OpenBLAS chose.
        #endif
    }

    /// One line for run records: library, kernel set, and whether the tool chose it.
    public static var description: String {
        let chosen = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (OPENBLAS_CORETYPE=\($0))" } ?? ""
        return "\(BLASRuntime.libraryName); core \(BLASRuntime.coreName)\(chosen)"
    }
}
