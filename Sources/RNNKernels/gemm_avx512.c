/* rnn-exp's own packed float32 GEMM (issue 23): row-major C = alpha . op(A) . op(B) + beta . C
   for the window products and weight gradients, so that their speed does not depend on which
   kernel set the system OpenBLAS loaded (OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU halves it).

   BLIS-style blocking (Goto / van de Geijn):
     for jc in N step NC            B block (KC x NC) packed once per (jc, pc): stays in L2/L3
       for pc in K step KC          the first depth block applies beta, the others accumulate
         pack B into 32-column panels, zero-padded: panel[q * 32 + j]
         for ic in M step MC        A block (MC x KC) packed into 12-row micro-panels: L2
           pack A: micro-panel[q * mr + r] (mr = 12, the last one mr = m % 12)
           for jr over B panels     one B micro-panel (KC x 32) stays in L1 ...
             for ir over A panels   ... while the A micro-panels stream from L2
               12 x 32 register block (24 zmm accumulators, 2 B loads, 12 broadcasts per depth
               step), then C = alpha . acc + beta . C with masked loads/stores (only the m x n
               entries are ever read or written: padded leading dimensions stay untouched, and
               beta = 0 never reads C, so NaNs there do not propagate).
   Block sizes: KC <= 256 (a B micro-panel of 32 KB: L1), MC <= 480 (multiples of 12), NC <= 3072,
   each split evenly so that no block is a sliver (KC 128-512 and MC 240-960 measured level on
   Zen 4 within its noise). Packing buffers are per thread (pthread key, freed at thread exit), grown on
   demand: sweeps run trainers on several threads at once.

   Compiled with function-level target attributes (AVX-512F+BW+VL), chosen at run time: the CPU
   features are read once, race-free (pthread_once). On other CPUs the caller keeps the system BLAS. */
#include "RNNKernels.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define GEMM_X86 1
#endif

#define GEMM_MR 12
#define GEMM_NR 32
#ifndef GEMM_KC  /* -D overrides: for tuning runs only */
#define GEMM_KC 256
#endif
#ifndef GEMM_MC
#define GEMM_MC 480
#endif
#ifndef GEMM_NC
#define GEMM_NC 3072
#endif

/* ---- the naive twin ------------------------------------------------------------------------ */

void rnn_sgemm_naive(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            float s = 0.0f;
            for (long p = 0; p < k; p++) {
                float av = transA ? a[p * lda + i] : a[i * lda + p];
                float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
            }
            c[i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
        }
}

/* ---- CPU detection and the choice of path --------------------------------------------------- */

static int gemm_avx512_ok = 0;
static int gemm_mode = 0; /* 0 auto (by shape), 1 always own (where the CPU has it), 2 never */
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;
static pthread_key_t gemm_key;

static void gemm_free_buffer(void *p) { free(p); }

static void gemm_init(void) {
#if GEMM_X86
    __builtin_cpu_init();
    gemm_avx512_ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
#endif
    const char *mode = getenv("RNN_EXP_GEMM");
    if (mode && strcmp(mode, "own") == 0) gemm_mode = 1;
    else if (mode && strcmp(mode, "blas") == 0) gemm_mode = 2;
    pthread_key_create(&gemm_key, gemm_free_buffer);
}

int rnn_gemm_avx512(void) {
    pthread_once(&gemm_once, gemm_init);
    return gemm_avx512_ok;
}

int rnn_gemm_mode(void) {
    pthread_once(&gemm_once, gemm_init);
    return gemm_mode;
}

int rnn_sgemm_own_wins(int transA, int transB, long m, long n, long k) {
    pthread_once(&gemm_once, gemm_init);
    if (!gemm_avx512_ok || gemm_mode == 2) return 0;
    if (gemm_mode == 1) return 1;
    (void)transA; (void)transB;
    /* Measured on the engine's shapes (tbptt-bench --gemm-compare, thread CPU time, best of 15;
       README's speed section): from the medium workload's window products up (m n k >= 2^20:
       800x128x64, 64x128x800, ...) the own kernel matches or beats OpenBLAS's Haswell and
       SkylakeX/Cooperlake kernels. Below that OpenBLAS's small-matrix paths win (the small
       workload's 16x32x320 runs at 111 GFLOP/s there, 76 here), and so does any n that leaves
       much of the last 32-column panel empty (n = 16: half of every FMA wasted). */
    long panels = (n + GEMM_NR - 1) / GEMM_NR;
    return m * n * k >= (1L << 20) && 4 * n >= 3 * panels * GEMM_NR;
}

/* The calling thread's packing buffer of at least `floats` floats, 64-byte aligned. */
static float *gemm_buffer(long floats) {
    struct header { long cap; long pad[7]; };
    struct header *h = pthread_getspecific(gemm_key);
    if (!h || h->cap < floats) {
        free(h);
        long cap = floats + floats / 4 + 1024;
        h = aligned_alloc(64, sizeof(struct header) + (size_t)cap * sizeof(float) + 63 - ((sizeof(struct header) + (size_t)cap * sizeof(float) + 63) % 64));
        if (!h) return NULL;
        h->cap = cap;
        pthread_setspecific(gemm_key, h);
    }
    return (float *)(h + 1);
}

#if GEMM_X86
#define AVX512G __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define INLINE inline __attribute__((always_inline))

static inline __mmask16 gmask16(long rem) {
    return rem >= 16 ? (__mmask16)0xFFFF : (rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1));
}

/* ---- packing ------------------------------------------------------------------------------- */

#include "transpose16.h"

/* Packs `rows` (<= 16) strided vectors into a depth-major micro-panel: vector j holds
   src[j * ld + q] for q < kc; out[q * width + j] for j < rows (width >= rows; columns rows ..<
   width are zero). Whole 16-deep slices go through transpose16, the tail element by element. */
AVX512G static void pack_gather(long rows, long width, long kc, const float *src, long ld, float *out) {
    __mmask16 wmask = gmask16(width);
    long q = 0;
    for (; q + 16 <= kc; q += 16) {
        __m512 r[16];
        for (int j = 0; j < 16; j++) r[j] = j < rows ? _mm512_loadu_ps(src + j * ld + q) : _mm512_setzero_ps();
        transpose16(r);
        for (int x = 0; x < 16; x++) _mm512_mask_storeu_ps(out + (q + x) * width, wmask, r[x]);
    }
    for (; q < kc; q++)
        for (long j = 0; j < width; j++) out[q * width + j] = j < rows ? src[j * ld + q] : 0.0f;
}

/* op(B)[pc ..< pc+kc, jc ..< jc+nc] into ceil(nc / 32) panels of kc x 32, zero-padded columns:
   panel p at dst + p * kc * 32, element (q, j) at [q * 32 + j]. */
AVX512G static void pack_b(int transB, long kc, long nc, const float *b, long ldb, long pc, long jc, float *dst) {
    for (long j0 = 0; j0 < nc; j0 += GEMM_NR) {
        long w = nc - j0 < GEMM_NR ? nc - j0 : GEMM_NR;
        float *panel = dst + j0 * kc;
        if (!transB) {  /* op(B)(q, j) = b[q * ldb + j]: rows are contiguous */
            __mmask16 m0 = gmask16(w), m1 = gmask16(w - 16);
            const float *src = b + pc * ldb + jc + j0;
            for (long q = 0; q < kc; q++) {
                _mm512_store_ps(panel + q * GEMM_NR, _mm512_maskz_loadu_ps(m0, src + q * ldb));
                _mm512_store_ps(panel + q * GEMM_NR + 16, _mm512_maskz_loadu_ps(m1, src + q * ldb + 16));
            }
        } else {  /* op(B)(q, j) = b[j * ldb + q]: two 16-column halves, transposed */
            const float *src = b + (jc + j0) * ldb + pc;
            long w0 = w < 16 ? w : 16, w1 = w - 16 > 0 ? w - 16 : 0;
            long q = 0;
            for (; q + 16 <= kc; q += 16) {
                for (int half = 0; half < 2; half++) {
                    long rows = half ? w1 : w0;
                    __m512 r[16];
                    for (int j = 0; j < 16; j++)
                        r[j] = j < rows ? _mm512_loadu_ps(src + (half * 16 + j) * ldb + q) : _mm512_setzero_ps();
                    transpose16(r);
                    for (int x = 0; x < 16; x++) _mm512_store_ps(panel + (q + x) * GEMM_NR + half * 16, r[x]);
                }
            }
            for (; q < kc; q++)
                for (long j = 0; j < GEMM_NR; j++) panel[q * GEMM_NR + j] = j < w ? src[j * ldb + q] : 0.0f;
        }
    }
}

/* op(A)[ic ..< ic+mc, pc ..< pc+kc] into micro-panels of 12 rows (the last one mr = mc % 12 rows):
   panel of rows i0 at dst + i0 * kc, element (r, q) at [q * mr + r]. */
AVX512G static void pack_a(int transA, long mc, long kc, const float *a, long lda, long ic, long pc, float *dst) {
    for (long i0 = 0; i0 < mc; i0 += GEMM_MR) {
        long mr = mc - i0 < GEMM_MR ? mc - i0 : GEMM_MR;
        float *panel = dst + i0 * kc;
        if (transA) {  /* op(A)(i, q) = a[q * lda + i]: mr contiguous floats per depth step */
            __mmask16 m = gmask16(mr);
            const float *src = a + pc * lda + ic + i0;
            for (long q = 0; q < kc; q++) _mm512_mask_storeu_ps(panel + q * mr, m, _mm512_maskz_loadu_ps(m, src + q * lda));
        } else {
            pack_gather(mr, mr, kc, a + (ic + i0) * lda + pc, lda, panel);
        }
    }
}

/* ---- micro-kernel -------------------------------------------------------------------------- */

/* C[0 ..< MR, 0 ..< 32 (masks)] = alpha . (A panel . B panel) + beta . C; beta == 0: C not read. */
AVX512G static INLINE void ukr(const int MR, long kc, const float *ap, const float *bp, float *c, long ldc,
                               __mmask16 m0, __mmask16 m1, float alpha, float beta) {
    __m512 x0[GEMM_MR], x1[GEMM_MR];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        x0[r] = _mm512_setzero_ps(); x1[r] = _mm512_setzero_ps();
        /* the C tile is read (and written) after the depth loop: ask for it now */
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + 31), _MM_HINT_T0);
    }
#pragma clang loop unroll_count(2)
    for (long q = 0; q < kc; q++) {
        __m512 b0 = _mm512_load_ps(bp + q * GEMM_NR), b1 = _mm512_load_ps(bp + q * GEMM_NR + 16);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(ap[q * MR + r]);
            x0[r] = _mm512_fmadd_ps(av, b0, x0[r]);
            x1[r] = _mm512_fmadd_ps(av, b1, x1[r]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        float *cr = c + r * ldc;
        __m512 v0, v1;
        if (beta == 0.0f) {
            v0 = _mm512_mul_ps(x0[r], va);
            v1 = _mm512_mul_ps(x1[r], va);
        } else {
            v0 = _mm512_fmadd_ps(x0[r], va, _mm512_mul_ps(_mm512_maskz_loadu_ps(m0, cr), vb));
            v1 = _mm512_fmadd_ps(x1[r], va, _mm512_mul_ps(_mm512_maskz_loadu_ps(m1, cr + 16), vb));
        }
        _mm512_mask_storeu_ps(cr, m0, v0);
        _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
}

#define GEMM_UKR_CASE(R) case R: ukr(R, kc, ap, bp, c, ldc, m0, m1, alpha, beta); break;
AVX512G static void ukr_any(int mr, long kc, const float *ap, const float *bp, float *c, long ldc,
                            __mmask16 m0, __mmask16 m1, float alpha, float beta) {
    switch (mr) {
        GEMM_UKR_CASE(12) GEMM_UKR_CASE(1) GEMM_UKR_CASE(2) GEMM_UKR_CASE(3) GEMM_UKR_CASE(4) GEMM_UKR_CASE(5)
        GEMM_UKR_CASE(6) GEMM_UKR_CASE(7) GEMM_UKR_CASE(8) GEMM_UKR_CASE(9) GEMM_UKR_CASE(10) GEMM_UKR_CASE(11)
        default: break;
    }
}

static inline long ceil_div(long a, long b) { return (a + b - 1) / b; }
static inline long round_up(long a, long b) { return ceil_div(a, b) * b; }

AVX512G static int sgemm_avx512(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                                const float *b, long ldb, float beta, float *c, long ldc) {
    long kcb = ceil_div(k, ceil_div(k, GEMM_KC));
    long mcb = round_up(ceil_div(m, ceil_div(m, GEMM_MC)), GEMM_MR);
    long ncb = round_up(ceil_div(n, ceil_div(n, GEMM_NC)), GEMM_NR);
    if (mcb > m) mcb = m;
    float *buf = gemm_buffer(kcb * ncb + kcb * round_up(mcb, GEMM_MR) + 32);
    if (!buf) return 0;
    float *bpack = buf, *apack = buf + kcb * ncb;
    for (long jc = 0; jc < n; jc += ncb) {
        long nc = n - jc < ncb ? n - jc : ncb;
        for (long pc = 0; pc < k; pc += kcb) {
            long kc = k - pc < kcb ? k - pc : kcb;
            float be = pc == 0 ? beta : 1.0f;
            pack_b(transB, kc, nc, b, ldb, pc, jc, bpack);
            for (long ic = 0; ic < m; ic += mcb) {
                long mc = m - ic < mcb ? m - ic : mcb;
                pack_a(transA, mc, kc, a, lda, ic, pc, apack);
                for (long j0 = 0; j0 < nc; j0 += GEMM_NR) {
                    long w = nc - j0;
                    __mmask16 m0 = gmask16(w), m1 = gmask16(w - 16);
                    const float *bp = bpack + j0 * kc;
                    for (long i0 = 0; i0 < mc; i0 += GEMM_MR) {
                        int mr = (int)(mc - i0 < GEMM_MR ? mc - i0 : GEMM_MR);
                        ukr_any(mr, kc, apack + i0 * kc, bp, c + (ic + i0) * ldc + jc + j0, ldc, m0, m1, alpha, be);
                    }
                }
            }
        }
    }
    return 1;
}

/* Two products sharing op(A): [C1 | C2] = alpha . op(A) . [op(B1) | op(B2)] + beta . [C1 | C2], with the
   two B blocks packed side by side (each zero-padded to whole panels) so that every A block is
   packed once for both. Block sizes depend on m and k only, so each C gets exactly the sums of
   its own sgemm_avx512 call. Needs both panel sets within one NC block (the caller checks). */
AVX512G static int sgemm_avx512_pair(int transA, int transB, long m, long k, float alpha, const float *a, long lda,
                                     long n1, const float *b1, long ldb1, float *c1, long ldc1,
                                     long n2, const float *b2, long ldb2, float *c2, long ldc2, float beta) {
    long kcb = ceil_div(k, ceil_div(k, GEMM_KC));
    long mcb = round_up(ceil_div(m, ceil_div(m, GEMM_MC)), GEMM_MR);
    if (mcb > m) mcb = m;
    long w1 = round_up(n1, GEMM_NR), w2 = round_up(n2, GEMM_NR);
    float *buf = gemm_buffer(kcb * (w1 + w2) + kcb * round_up(mcb, GEMM_MR) + 32);
    if (!buf) return 0;
    float *bpack = buf, *apack = buf + kcb * (w1 + w2);
    for (long pc = 0; pc < k; pc += kcb) {
        long kc = k - pc < kcb ? k - pc : kcb;
        float be = pc == 0 ? beta : 1.0f;
        pack_b(transB, kc, n1, b1, ldb1, pc, 0, bpack);
        pack_b(transB, kc, n2, b2, ldb2, pc, 0, bpack + w1 * kc);
        for (long ic = 0; ic < m; ic += mcb) {
            long mc = m - ic < mcb ? m - ic : mcb;
            pack_a(transA, mc, kc, a, lda, ic, pc, apack);
            for (long j0 = 0; j0 < w1 + w2; j0 += GEMM_NR) {
                int second = j0 >= w1;
                long col = second ? j0 - w1 : j0, w = (second ? n2 : n1) - col, ldc = second ? ldc2 : ldc1;
                float *cc = (second ? c2 : c1) + col;
                __mmask16 m0 = gmask16(w), m1 = gmask16(w - 16);
                const float *bp = bpack + j0 * kc;
                for (long i0 = 0; i0 < mc; i0 += GEMM_MR) {
                    int mr = (int)(mc - i0 < GEMM_MR ? mc - i0 : GEMM_MR);
                    ukr_any(mr, kc, apack + i0 * kc, bp, cc + (ic + i0) * ldc, ldc, m0, m1, alpha, be);
                }
            }
        }
    }
    return 1;
}
#endif

/* C = beta . C (k = 0 or alpha = 0); beta = 0 writes zeros without reading C. */
static void scale_c(long m, long n, float beta, float *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

void rnn_sgemm_own(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) { scale_c(m, n, beta, c, ldc); return; }
#if GEMM_X86
    if (rnn_gemm_avx512() && sgemm_avx512(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
#endif
    rnn_sgemm_naive(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void rnn_sgemm_own_pair(int transA, int transB, long m, long k, float alpha, const float *a, long lda,
                        long n1, const float *b1, long ldb1, float *c1, long ldc1,
                        long n2, const float *b2, long ldb2, float *c2, long ldc2, float beta) {
    if (m <= 0) return;
#if GEMM_X86
    if (n1 > 0 && n2 > 0 && k > 0 && alpha != 0.0f && rnn_gemm_avx512() &&
        round_up(n1, GEMM_NR) + round_up(n2, GEMM_NR) <= GEMM_NC &&
        sgemm_avx512_pair(transA, transB, m, k, alpha, a, lda, n1, b1, ldb1, c1, ldc1, n2, b2, ldb2, c2, ldc2, beta))
        return;
#endif
    rnn_sgemm_own(transA, transB, m, n1, k, alpha, a, lda, b1, ldb1, beta, c1, ldc1);
    rnn_sgemm_own(transA, transB, m, n2, k, alpha, a, lda, b2, ldb2, beta, c2, ldc2);
}
