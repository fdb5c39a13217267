import Foundation
import RNNCore

/// What the tool knows about OpenBLAS's kernel choice. OpenBLAS reads `OPENBLAS_CORETYPE` once,
/// when the library loads (before `main`). Debian's OpenBLAS 0.3.21 does not recognise recent
/// CPUs under virtualisation and falls back to `Prescott` (SSE3), 2–4× slower than the
/// AVX2/AVX-512 kernels the CPU has; `chooseCoreType` names the kernel set to ask for instead,
/// never one whose instructions the CPU (as the kernel reports it) lacks. The CLI acts on it
/// (it sets the variable and re-executes itself, see the README).
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

    /// One line for run records: library, kernel set, and whether the tool chose it.
    public static var description: String {
        let chosen = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (OPENBLAS_CORETYPE=\($0))" } ?? ""
        return "\(BLASRuntime.libraryName); core \(BLASRuntime.coreName)\(chosen)"
    }
}
