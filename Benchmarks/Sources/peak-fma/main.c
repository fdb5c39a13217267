// peak-fma: the single-thread floating-point peak of this CPU, measured, in GFLOP/s (float32).
//
// A loop of fused multiply-adds on registers only (no loads or stores): 10 independent
// accumulators, acc_k = acc_k * m + a, so that the FMA units never wait on a result (10 chains
// cover latency 4-5 x 2 FMA ports). Each FMA on a W-lane register is 2W flops:
//   AVX2    _mm256_fmadd_ps, 8 lanes:  10 x 16 = 160 flops per iteration
//   AVX-512 _mm512_fmadd_ps, 16 lanes: 10 x 32 = 320 flops per iteration, only where
//           __builtin_cpu_supports("avx512f") (on some CPUs 512-bit FMAs are split in two, so it
//           is measured rather than assumed faster)
// Each kernel is timed with CLOCK_MONOTONIC after a warm-up (which also lets the clock settle),
// iterations doubled until a run takes at least 0.2 s; the best of 3 runs counts. Compiled for
// those instruction sets with target attributes, so no global compiler flags are needed; the
// right one is chosen at run time. On other CPUs it reports no peak (null).
//
// Prints one JSON line: {"avx2_gflops": ..., "avx512_gflops": ... or null, "peak_gflops": ...}
// Usage: peak-fma [min-seconds]

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Inputs read through volatile so that the compiler cannot fold the loop.
static volatile float multiplier = 0.999999f, addend = 1e-7f;
static volatile float sink;

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1

#define FMA_10(fma, m, a)                                                              \
    acc0 = fma(acc0, m, a); acc1 = fma(acc1, m, a); acc2 = fma(acc2, m, a);              \
    acc3 = fma(acc3, m, a); acc4 = fma(acc4, m, a); acc5 = fma(acc5, m, a);              \
    acc6 = fma(acc6, m, a); acc7 = fma(acc7, m, a); acc8 = fma(acc8, m, a);              \
    acc9 = fma(acc9, m, a);

__attribute__((target("avx2,fma"))) static double run_avx2(long iterations) {
    __m256 m = _mm256_set1_ps(multiplier), a = _mm256_set1_ps(addend);
    __m256 acc0 = _mm256_set1_ps(0.0f), acc1 = _mm256_set1_ps(0.1f), acc2 = _mm256_set1_ps(0.2f),
           acc3 = _mm256_set1_ps(0.3f), acc4 = _mm256_set1_ps(0.4f), acc5 = _mm256_set1_ps(0.5f),
           acc6 = _mm256_set1_ps(0.6f), acc7 = _mm256_set1_ps(0.7f), acc8 = _mm256_set1_ps(0.8f),
           acc9 = _mm256_set1_ps(0.9f);
    double t0 = now();
    for (long i = 0; i < iterations; i++) {
        FMA_10(_mm256_fmadd_ps, m, a)
    }
    double t = now() - t0;
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)),
                             _mm256_add_ps(_mm256_add_ps(acc4, acc5), _mm256_add_ps(_mm256_add_ps(acc6, acc7),
                                                                                   _mm256_add_ps(acc8, acc9))));
    float out[8];
    _mm256_storeu_ps(out, s);
    sink = out[0] + out[7];
    return t;
}

__attribute__((target("avx512f"))) static double run_avx512(long iterations) {
    __m512 m = _mm512_set1_ps(multiplier), a = _mm512_set1_ps(addend);
    __m512 acc0 = _mm512_set1_ps(0.0f), acc1 = _mm512_set1_ps(0.1f), acc2 = _mm512_set1_ps(0.2f),
           acc3 = _mm512_set1_ps(0.3f), acc4 = _mm512_set1_ps(0.4f), acc5 = _mm512_set1_ps(0.5f),
           acc6 = _mm512_set1_ps(0.6f), acc7 = _mm512_set1_ps(0.7f), acc8 = _mm512_set1_ps(0.8f),
           acc9 = _mm512_set1_ps(0.9f);
    double t0 = now();
    for (long i = 0; i < iterations; i++) {
        FMA_10(_mm512_fmadd_ps, m, a)
    }
    double t = now() - t0;
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)),
                             _mm512_add_ps(_mm512_add_ps(acc4, acc5), _mm512_add_ps(_mm512_add_ps(acc6, acc7),
                                                                                   _mm512_add_ps(acc8, acc9))));
    sink = _mm512_reduce_add_ps(s);
    return t;
}

/// GFLOP/s of `kernel`, `flops` per iteration: the best of 3 runs of at least `min_seconds`.
static double rate(double (*kernel)(long), double flops, double min_seconds) {
    long n = 1 << 16;
    kernel(n);  // warm-up
    while (kernel(n) < min_seconds) n *= 2;
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double g = flops * (double)n / kernel(n) / 1e9;
        if (g > best) best = g;
    }
    return best;
}
#endif

int main(int argc, char **argv) {
    double min_seconds = argc > 1 ? atof(argv[1]) : 0.2;
    if (!(min_seconds > 0)) min_seconds = 0.2;
#ifdef HAVE_X86
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        printf("{\"avx2_gflops\": null, \"avx512_gflops\": null, \"peak_gflops\": null}\n");
        return 0;
    }
    double avx2 = rate(run_avx2, 10 * 8 * 2, min_seconds);
    double peak = avx2;
    if (__builtin_cpu_supports("avx512f")) {
        double avx512 = rate(run_avx512, 10 * 16 * 2, min_seconds);
        if (avx512 > peak) peak = avx512;
        printf("{\"avx2_gflops\": %.2f, \"avx512_gflops\": %.2f, \"peak_gflops\": %.2f}\n", avx2, avx512, peak);
    } else {
        printf("{\"avx2_gflops\": %.2f, \"avx512_gflops\": null, \"peak_gflops\": %.2f}\n", avx2, peak);
    }
#else
    printf("{\"avx2_gflops\": null, \"avx512_gflops\": null, \"peak_gflops\": null}\n");
#endif
    return 0;
}
