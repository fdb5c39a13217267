/// The PRNG streams a run's seed is split into (`Xoshiro256(seed:stream:)`): reproducibility
/// depends on these numbers, so they live in one place. Changing one changes every result.
public enum SeedStream {
    /// The initial weights (`NetworkSpec.initialParameters`).
    public static let initialWeights: UInt64 = 1
    /// The generated datasets' samples.
    public static let data: UInt64 = 2
    /// Epoch `e`'s shuffle of the training sequences: stream `3 + e`.
    public static func shuffle(epoch: Int) -> UInt64 { 3 + UInt64(epoch) }

    /// Seeds of the tool's own checks (not a run's seed): which parameters `gradcheck` samples
    /// beyond its limit, and the BLAS self-test's matrices.
    public static let gradientCheckSample: UInt64 = 12345
    public static let blasSelfTest: UInt64 = 5
}
