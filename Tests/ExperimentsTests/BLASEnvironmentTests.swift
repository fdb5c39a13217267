import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 9's trap: Debian's OpenBLAS falls back to Prescott on CPUs it does not know.
@Suite("BLAS environment")
struct BLASEnvironmentTests {
    @Test func genericFallbackIsReplacedByWhatTheCPUHas() {
        let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
        #expect(BLASEnvironment.chooseCoreType(detected: "Prescott", cpuFlags: avx512) == "SkylakeX")
        #expect(BLASEnvironment.chooseCoreType(detected: "Prescott", cpuFlags: ["avx", "avx2", "fma"]) == "Haswell")
        #expect(BLASEnvironment.chooseCoreType(detected: "Prescott", cpuFlags: ["avx"]) == "Sandybridge")
        // Never a kernel set the CPU lacks; never overrides a recognised CPU.
        #expect(BLASEnvironment.chooseCoreType(detected: "Prescott", cpuFlags: ["sse3", "avx2"]) == nil)
        #expect(BLASEnvironment.chooseCoreType(detected: "Zen", cpuFlags: avx512) == nil)
        #expect(BLASEnvironment.chooseCoreType(detected: "SkylakeX", cpuFlags: ["avx2", "fma"]) == nil)
    }

    /// The binary reports the kernel set in --version, and its BLAS agrees with the naive kernel
    /// on awkward shapes under the core it chose (the `check-blas` self-test).
    @Test func versionAndSelfTestUnderTheChosenCore() throws {
        let v = try rnnExp(["--version"])
        #expect(v.status == 0 && v.stdout.contains("core "), "\(v.stdout)")
        let c = try rnnExp(["check-blas"])
        #expect(c.status == 0, "\(c.stdout)\(c.stderr)")
        #expect(c.stdout.contains("ok"))
    }
}
