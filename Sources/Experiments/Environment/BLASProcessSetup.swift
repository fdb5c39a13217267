import Foundation
import RNNCore

/// OpenBLAS reads `OPENBLAS_CORETYPE` once, when the library loads (before `main`). When it fell
/// back to a generic kernel set on a CPU with AVX2 or AVX-512 (Debian's 0.3.21 under
/// virtualisation picks `Prescott`, 2–4× slower), the commands that compute (`run`, `gradcheck`,
/// `check-blas`) set the variable to the kernel set the CPU supports and re-execute themselves
/// once. Nothing happens when OpenBLAS recognised the CPU, when `OPENBLAS_CORETYPE` is already set
/// (yours is kept), or with `RNN_EXP_NO_REEXEC=1`; other commands and `--help` never re-execute.
///
/// For executables only (the `rnn-exp` tool, the benchmarks): call `start()` first thing in
/// `main`, then `reexecIfItHelps()` where the process is about to compute.
///
/// The marker that stops a second re-execution is removed at start-up, so no child process
/// (`sbatch` and the jobs it starts) inherits it, and children get `OPENBLAS_CORETYPE` only if
/// the user set it: each cluster node decides for its own CPU.
public enum BLASProcessSetup {
    static let marker = "RNN_EXP_BLAS_REEXEC"
    static let optOut = "RNN_EXP_NO_REEXEC"
    static let coreTypeVariable = "OPENBLAS_CORETYPE"

    /// The kernel set this process asked for by re-executing (nil when it did not).
    nonisolated(unsafe) private(set) static var chosenCoreType: String? = nil

    /// Call first thing in `main`: takes the marker out of the environment.
    public static func start() {
        #if os(Linux)
        if getenv(marker) != nil {
            chosenCoreType = ProcessInfo.processInfo.environment[coreTypeVariable]
            unsetenv(marker)
        }
        #endif
    }

    public static func reexecIfItHelps() {
        #if os(Linux)
        let env = ProcessInfo.processInfo.environment
        guard chosenCoreType == nil, env[coreTypeVariable] == nil, env[optOut] == nil,
              let core = BLASEnvironment.chooseCoreType(detected: BLASRuntime.coreName, cpuFlags: BLASEnvironment.cpuFlags())
        else { return }
        setenv(coreTypeVariable, core, 1)
        setenv(marker, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returned: go on with the kernels OpenBLAS chose.
        unsetenv(coreTypeVariable)
        unsetenv(marker)
        #endif
    }

    /// This process's environment for a child, without the set-up made for this CPU.
    public static func environmentForChildren() -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env[marker] = nil
        if chosenCoreType != nil { env[coreTypeVariable] = nil }
        return env
    }
}
