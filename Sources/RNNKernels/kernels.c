#include "RNNKernels.h"
#include <math.h>
#include <pthread.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define RNN_X86 1
#endif

/* ---- portable versions ------------------------------------------------------------------- */

static inline float exp_poly(float v) {
    float x = v < -87.3f ? -87.3f : (v > 88.3f ? 88.3f : v);
    float fx = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
    x = x - fx * 0.693359375f;
    x = x + fx * 2.12194440e-4f;
    float z = x * x;
    float y = 1.9875691500e-4f;
    y = y * x + 1.3981999507e-3f;
    y = y * x + 8.3334519073e-3f;
    y = y * x + 4.1665795894e-2f;
    y = y * x + 1.6666665459e-1f;
    y = y * x + 5.0000001201e-1f;
    y = y * z + x + 1.0f;
    union { float f; unsigned u; } b = { fx + 8388735.0f };
    union { unsigned u; float f; } p = { (b.u - 0x4B000000u) << 23 };
    return y * p.f;
}

static inline float tanh_poly(float x) {
    float ax = fabsf(x);
    float e = exp_poly(fminf(ax * 2.0f, 88.0f));
    float big = 1.0f - 2.0f / (e + 1.0f);
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float s = x < 0 ? -big : big;
    return ax < 0.625f ? small : s;
}

static void tanh_generic(float *p, long n) { for (long i = 0; i < n; i++) p[i] = tanh_poly(p[i]); }

/* 1 / (1 + exp(-x)) from exp(-|x|), so it never overflows. */
static inline float sigmoid_poly(float x) {
    float e = exp_poly(-fabsf(x));
    float r = 1.0f / (1.0f + e);
    return x < 0 ? e * r : r;
}

static void sigmoid_generic(float *p, long n) { for (long i = 0; i < n; i++) p[i] = sigmoid_poly(p[i]); }

static float exp_generic(float *p, long n, float shift) {
    float s = 0;
    for (long i = 0; i < n; i++) { p[i] = exp_poly(p[i] - shift); s += p[i]; }
    return s;
}

static void gemm_generic(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                         float *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long q = 0; q < k; q++) {
            float av = a[i * lda + q];
            const float *br = b + q * ldb;
            float *cr = c + i * ldc;
            for (long j = 0; j < n; j++) cr[j] += av * br[j];
        }
}

/* ---- AVX2 + FMA versions ------------------------------------------------------------------- */
#if RNN_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp8(__m256 v) {
    __m256 x = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fmadd_ps(fx, _mm256_set1_ps(2.12194440e-4f), x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, z, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127));
    return _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(n, 23)));
}

AVX2 static inline __m256 tanh8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 e = exp8(_mm256_min_ps(_mm256_add_ps(ax, ax), _mm256_set1_ps(88.0f)));
    __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
    big = _mm256_or_ps(big, _mm256_and_ps(x, sign));
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    return _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

AVX2 static void tanh_avx2(float *p, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(p + i, tanh8(_mm256_loadu_ps(p + i)));
    for (; i < n; i++) p[i] = tanh_poly(p[i]);
}

AVX2 static void sigmoid_avx2(float *p, long n) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(p + i);
        __m256 e = exp8(_mm256_or_ps(x, sign));                 /* exp(-|x|) */
        __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
        __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
        _mm256_storeu_ps(p + i, _mm256_blendv_ps(r, _mm256_mul_ps(e, r), neg));
    }
    for (; i < n; i++) p[i] = sigmoid_poly(p[i]);
}

AVX2 static float exp_avx2(float *p, long n, float shift) {
    __m256 s8 = _mm256_setzero_ps(), sh = _mm256_set1_ps(shift);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p + i), sh));
        _mm256_storeu_ps(p + i, e);
        s8 = _mm256_add_ps(s8, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, s8);
    float s = lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
    for (; i < n; i++) { p[i] = exp_poly(p[i] - shift); s += p[i]; }
    return s;
}

/* 4 x 16 register-blocked micro-kernel: 8 accumulators, B rows streamed, A broadcast. */
AVX2 static void gemm_avx2(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                           float *c, long ldc) {
    long i = 0;
    for (; i + 4 <= m; i += 4) {
        long j = 0;
        for (; j + 16 <= n; j += 16) {
            __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
            __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
            const float *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            for (long q = 0; q < k; q++) {
                __m256 b0 = _mm256_loadu_ps(b + q * ldb + j), b1 = _mm256_loadu_ps(b + q * ldb + j + 8);
                __m256 x = _mm256_broadcast_ss(a0 + q);
                c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
                x = _mm256_broadcast_ss(a1 + q);
                c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
                x = _mm256_broadcast_ss(a2 + q);
                c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
                x = _mm256_broadcast_ss(a3 + q);
                c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
            }
            float *r = c + i * ldc + j;
            _mm256_storeu_ps(r, _mm256_add_ps(_mm256_loadu_ps(r), c00));
            _mm256_storeu_ps(r + 8, _mm256_add_ps(_mm256_loadu_ps(r + 8), c01));
            r += ldc;
            _mm256_storeu_ps(r, _mm256_add_ps(_mm256_loadu_ps(r), c10));
            _mm256_storeu_ps(r + 8, _mm256_add_ps(_mm256_loadu_ps(r + 8), c11));
            r += ldc;
            _mm256_storeu_ps(r, _mm256_add_ps(_mm256_loadu_ps(r), c20));
            _mm256_storeu_ps(r + 8, _mm256_add_ps(_mm256_loadu_ps(r + 8), c21));
            r += ldc;
            _mm256_storeu_ps(r, _mm256_add_ps(_mm256_loadu_ps(r), c30));
            _mm256_storeu_ps(r + 8, _mm256_add_ps(_mm256_loadu_ps(r + 8), c31));
        }
        if (j < n) gemm_generic(4, n - j, k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc);
    }
    if (i < m) gemm_generic(m - i, n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
}
#endif

/* ---- packed recurrence product (AVX-512) ---------------------------------------------------
   The recurrent weight is constant within an update window, so it is packed once per window into
   panels of RNN_PACK_NR columns: packed[(p * k + q) * NR + jj] = B(q, p * NR + jj), zero past n.
   Each step's C (m x n) += A (m x k) . B then streams the panels through an MR x 32 register
   block (MR <= 12, two zmm per row: 24 accumulators), A broadcast straight from its rows. */

#define NR RNN_PACK_NR
#ifndef RNN_KC
#define RNN_KC 512  /* depth block; U <= 512 runs unblocked: its panels stream from L2 (2 MB here) */
#endif
#define KC RNN_KC

long rnn_pack_size(long k, long n) { return k * ((n + NR - 1) / NR) * NR; }

void rnn_pack_b_naive(long k, long n, const float *b, long rs, long cs, float *packed) {
    long panels = (n + NR - 1) / NR;
    for (long p = 0; p < panels; p++) {
        long j0 = p * NR, w = n - j0 < NR ? n - j0 : NR;  /* columns of this panel; the rest is padding */
        float *panel = packed + p * k * NR;
        if (cs == 1) {  /* row-major B: each panel row is a contiguous run of w floats */
            for (long q = 0; q < k; q++) {
                float *dst = panel + q * NR;
                const float *src = b + q * rs + j0;
                for (long jj = 0; jj < w; jj++) dst[jj] = src[jj];
                for (long jj = w; jj < NR; jj++) dst[jj] = 0.0f;
            }
        } else {  /* general strides (rs = 1: B is a transpose): panel rows written whole, in order */
            for (long q = 0; q < k; q++) {
                float *dst = panel + q * NR;
                const float *src = b + q * rs + j0 * cs;
                for (long jj = 0; jj < w; jj++) dst[jj] = src[jj * cs];
                for (long jj = w; jj < NR; jj++) dst[jj] = 0.0f;
            }
        }
    }
}

static inline float epilogue1(float v, int epi, float h) {
    if (epi == RNN_EPI_TANH) return tanh_poly(v);
    if (epi == RNN_EPI_DTANH) return v * (1.0f - h * h);
    return v;
}

void rnn_sgemm_packed_naive(long m, long n, long k, const float *a, long lda, const float *packed,
                            float *c, long ldc, int epi, const float *h, long ldh) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            const float *bp = packed + ((j / NR) * k) * NR + (j % NR);
            float s = 0;
            for (long q = 0; q < k; q++) s += a[i * lda + q] * bp[q * NR];
            float v = c[i * ldc + j] + s;
            c[i * ldc + j] = epilogue1(v, epi, h ? h[i * ldh + j] : 0.0f);
        }
}

#if RNN_X86
#define AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
#include "transpose16.h"

/* rnn_pack_b for rs = 1 (B is the transpose of a row-major n x k matrix M, B(q, j) = M[j][q] at
   b[j * cs + q]: the forward panels of TWᵀ): 16 rows of M by 16 depths at a time, loaded whole and
   transposed in registers, instead of one strided load per element. The same panels. */
AVX512 static void pack_b_transposed_avx512(long k, long n, const float *b, long cs, float *packed) {
    long panels = (n + NR - 1) / NR;
    for (long p = 0; p < panels; p++) {
        long j0 = p * NR, w = n - j0 < NR ? n - j0 : NR;
        float *panel = packed + p * k * NR;
        long q = 0;
        for (; q + 16 <= k; q += 16) {
            for (long half = 0; half < 2; half++) {
                long rows = w - half * 16;
                __m512 r[16];
                for (long jj = 0; jj < 16; jj++)
                    r[jj] = jj < rows ? _mm512_loadu_ps(b + (j0 + half * 16 + jj) * cs + q) : _mm512_setzero_ps();
                transpose16(r);
                for (int x = 0; x < 16; x++) _mm512_storeu_ps(panel + (q + x) * NR + half * 16, r[x]);
            }
        }
        for (; q < k; q++)
            for (long jj = 0; jj < NR; jj++) panel[q * NR + jj] = jj < w ? b[q + (j0 + jj) * cs] : 0.0f;
    }
}

/* rnn_transpose_f32 on AVX-512: whole 16 x 16 tiles loaded row by row, transposed in registers
   and stored row by row; the edges (fewer than 16 rows or columns left) element by element. */
AVX512 static void transpose_avx512(long rows, long cols, const float *src, long lds, float *dst, long ldd) {
    long r0 = 0;
    for (; r0 + 16 <= rows; r0 += 16) {
        long c0 = 0;
        for (; c0 + 16 <= cols; c0 += 16) {
            __m512 t[16];
            for (int j = 0; j < 16; j++) t[j] = _mm512_loadu_ps(src + (r0 + j) * lds + c0);
            transpose16(t);
            for (int x = 0; x < 16; x++) _mm512_storeu_ps(dst + (c0 + x) * ldd + r0, t[x]);
        }
        for (; c0 < cols; c0++)
            for (long r = r0; r < r0 + 16; r++) dst[c0 * ldd + r] = src[r * lds + c0];
    }
    for (long c = 0; c < cols; c++)
        for (long r = r0; r < rows; r++) dst[c * ldd + r] = src[r * lds + c];
}

/* The lanes of a 16-wide vector that hold data when `rem` elements remain: none, the first rem,
   or all 16 (the tail masks of every AVX-512 loop below). */
static inline __mmask16 mask16(long rem) {
    return rem >= 16 ? (__mmask16)0xFFFF : (rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1));
}

AVX512 static inline __m512 exp16(__m512 v) {
    __m512 x = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fmadd_ps(fx, _mm512_set1_ps(2.12194440e-4f), x);
    __m512 z = _mm512_mul_ps(x, x);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, z, _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, fx);  /* y · 2^fx in one instruction (fx is already an integer) */
}

/* 1/d for d >= 1: the 14-bit estimate and one Newton step (relative error ~2^-27, under float32's
   ulp), instead of a division, whose latency the per-step epilogue would wait on. */
AVX512 static inline __m512 recip16(__m512 d) {
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

AVX512 static inline __m512 tanh16(__m512 x) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    __m512 ax = _mm512_andnot_ps(sign, x);
    __m512 e = exp16(_mm512_min_ps(_mm512_add_ps(ax, ax), _mm512_set1_ps(88.0f)));
    __m512 big = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), recip16(_mm512_add_ps(e, _mm512_set1_ps(1.0f))), _mm512_set1_ps(1.0f));
    big = _mm512_or_ps(big, _mm512_and_ps(x, sign));
    __m512 z = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    __mmask16 lt = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(lt, big, small);
}

AVX512 static inline __m512 epilogue16(__m512 v, int epi, const float *h, __mmask16 mask) {
    if (epi == RNN_EPI_TANH) return tanh16(v);
    if (epi == RNN_EPI_DTANH) {
        __m512 hv = _mm512_maskz_loadu_ps(mask, h);
        return _mm512_mul_ps(v, _mm512_fnmadd_ps(hv, hv, _mm512_set1_ps(1.0f)));
    }
    return v;
}

/* MR x 32 block of C += A[:, 0:kc] . panel slice; `last`: apply the epilogue before storing. */
AVX512 static inline __attribute__((always_inline)) void ukr512(
    const int MR, long kc, const float *a, long lda, const float *bp, float *c, long ldc,
    __mmask16 m0, __mmask16 m1, int last, int epi, const float *h, long ldh) {
    __m512 x0[12], x1[12];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) { x0[r] = _mm512_setzero_ps(); x1[r] = _mm512_setzero_ps(); }
    /* The C tile is read after the depth loop: ask for it now (in the training loop the gate
       rows come from the window's input projection, long out of cache; the loop hides the miss). */
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + 31), _MM_HINT_T0);
    }
    for (long q = 0; q < kc; q++) {
        __m512 b0 = _mm512_loadu_ps(bp + q * NR), b1 = _mm512_loadu_ps(bp + q * NR + 16);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(a[r * lda + q]);
            x0[r] = _mm512_fmadd_ps(av, b0, x0[r]);
            x1[r] = _mm512_fmadd_ps(av, b1, x1[r]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        float *cr = c + r * ldc;
        __m512 v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cr), x0[r]);
        __m512 v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cr + 16), x1[r]);
        if (last && epi) {
            v0 = epilogue16(v0, epi, h + r * ldh, m0);
            v1 = epilogue16(v1, epi, h + r * ldh + 16, m1);
        }
        _mm512_mask_storeu_ps(cr, m0, v0);
        _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
}

#define UKR_CASE(R) case R: ukr512(R, kc, a, lda, bp, c, ldc, m0, m1, last, epi, h, ldh); break;
AVX512 static void ukr512_any(int mr, long kc, const float *a, long lda, const float *bp, float *c, long ldc,
                              __mmask16 m0, __mmask16 m1, int last, int epi, const float *h, long ldh) {
    switch (mr) {
        UKR_CASE(1) UKR_CASE(2) UKR_CASE(3) UKR_CASE(4) UKR_CASE(5) UKR_CASE(6)
        UKR_CASE(7) UKR_CASE(8) UKR_CASE(9) UKR_CASE(10) UKR_CASE(11) UKR_CASE(12)
        default: break;
    }
}

#ifndef RNN_MR_MAX
#define RNN_MR_MAX 12  /* 24 zmm accumulators of 32 */
#endif

AVX512 static void sgemm_packed_avx512(long m, long n, long k, const float *a, long lda, const float *packed,
                                       float *c, long ldc, int epi, const float *h, long ldh) {
    if (m <= 0 || n <= 0) return;
    long panels = (n + NR - 1) / NR;
    long blocks = (m + RNN_MR_MAX - 1) / RNN_MR_MAX;  /* balanced row blocks: 64 rows -> 6 x 10-11 */
    if (k <= 0) {  /* nothing to add: the epilogue alone */
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++)
                c[i * ldc + j] = epilogue1(c[i * ldc + j], epi, h ? h[i * ldh + j] : 0.0f);
        return;
    }
    for (long k0 = 0; k0 < k; k0 += KC) {
        long kc = k - k0 < KC ? k - k0 : KC;
        int last = k0 + kc == k;
        for (long p = 0; p < panels; p++) {
            long j = p * NR, rem = n - j;
            __mmask16 m0 = mask16(rem), m1 = mask16(rem - 16);
            const float *bp = packed + (p * k + k0) * NR;
            long i = 0;
            for (long blk = 0; blk < blocks; blk++) {
                long mr = (m - i) / (blocks - blk) + ((m - i) % (blocks - blk) ? 1 : 0);
                ukr512_any((int)mr, kc, a + i * lda + k0, lda, bp, c + i * ldc + j, ldc, m0, m1, last, epi,
                           h ? h + i * ldh + j : h, ldh);
                i += mr;
            }
        }
    }
}
/* σ(x) = 1 / (1 + exp(-|x|)), mirrored for x < 0 (never overflows). */
AVX512 static inline __m512 sigmoid16(__m512 x) {
    __m512 e = exp16(_mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
    __m512 r = recip16(_mm512_add_ps(e, _mm512_set1_ps(1.0f)));
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_mul_ps(r, neg, e, r);
}

/* The LSTM cell over 16 units at a time; the last block of a row masked (u need not divide 16). */
/* The gate pre-activations of 16 units of gate block `k` (0 i, 1 f, 2 g, 3 o), plus the bias when
   there is one (added last, after the products: (SW·x + TW·h) + b). */
AVX512 static inline __m512 lstm_pre16(const float *g, const float *bias, long u, long k, long j, __mmask16 m) {
    __m512 v = _mm512_maskz_loadu_ps(m, g + k * u + j);
    return bias ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + k * u + j)) : v;
}

AVX512 static void lstm_forward_avx512(long b, long u, float *gates, long aw, const float *c_prev, float *h, long ldh,
                                       const float *bias) {
    for (long r = 0; r < b; r++) {
        float *g = gates + r * aw;
        const float *cp = c_prev + r * aw;
        for (long j = 0; j < u; j += 16) {
            __mmask16 m = mask16(u - j);
            __m512 si = sigmoid16(lstm_pre16(g, bias, u, 0, j, m));
            __m512 sf = sigmoid16(lstm_pre16(g, bias, u, 1, j, m));
            __m512 tg = tanh16(lstm_pre16(g, bias, u, 2, j, m));
            __m512 so = sigmoid16(lstm_pre16(g, bias, u, 3, j, m));
            __m512 c = _mm512_fmadd_ps(sf, _mm512_maskz_loadu_ps(m, cp + j), _mm512_mul_ps(si, tg));
            __m512 tc = tanh16(c);
            _mm512_mask_storeu_ps(g + j, m, si);
            _mm512_mask_storeu_ps(g + u + j, m, sf);
            _mm512_mask_storeu_ps(g + 2 * u + j, m, tg);
            _mm512_mask_storeu_ps(g + 3 * u + j, m, so);
            _mm512_mask_storeu_ps(g + 4 * u + j, m, c);
            _mm512_mask_storeu_ps(g + 5 * u + j, m, tc);
            _mm512_mask_storeu_ps(h + r * ldh + j, m, _mm512_mul_ps(so, tc));
        }
    }
}

AVX512 static inline void lstm_dbias16(float *dbias, long k, long u, long j, __mmask16 m, __m512 v) {
    if (dbias) _mm512_mask_storeu_ps(dbias + k * u + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dbias + k * u + j), v));
}

AVX512 static void lstm_backward_avx512(long b, long u, const float *gates, long aw, const float *c_prev,
                                        float *delta, long dw, const float *dh_next, float *dc_next, float *dbias) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (long r = 0; r < b; r++) {
        const float *g = gates + r * aw, *cp = c_prev + r * aw, *dhn = dh_next + r * u;
        float *d = delta + r * dw, *dcn = dc_next + r * u;
        for (long j = 0; j < u; j += 16) {
            __mmask16 m = mask16(u - j);
            __m512 si = _mm512_maskz_loadu_ps(m, g + j), sf = _mm512_maskz_loadu_ps(m, g + u + j);
            __m512 tg = _mm512_maskz_loadu_ps(m, g + 2 * u + j), so = _mm512_maskz_loadu_ps(m, g + 3 * u + j);
            __m512 tc = _mm512_maskz_loadu_ps(m, g + 5 * u + j);
            __m512 dh = _mm512_add_ps(_mm512_maskz_loadu_ps(m, d + j), _mm512_maskz_loadu_ps(m, dhn + j));
            __m512 dc = _mm512_fmadd_ps(_mm512_mul_ps(dh, so), _mm512_fnmadd_ps(tc, tc, one), _mm512_maskz_loadu_ps(m, dcn + j));
            __m512 di = _mm512_mul_ps(_mm512_mul_ps(dc, tg), _mm512_mul_ps(si, _mm512_sub_ps(one, si)));
            __m512 df = _mm512_mul_ps(_mm512_mul_ps(dc, _mm512_maskz_loadu_ps(m, cp + j)), _mm512_mul_ps(sf, _mm512_sub_ps(one, sf)));
            __m512 dg = _mm512_mul_ps(_mm512_mul_ps(dc, si), _mm512_fnmadd_ps(tg, tg, one));
            __m512 dO = _mm512_mul_ps(_mm512_mul_ps(dh, tc), _mm512_mul_ps(so, _mm512_sub_ps(one, so)));
            _mm512_mask_storeu_ps(d + j, m, di);
            _mm512_mask_storeu_ps(d + u + j, m, df);
            _mm512_mask_storeu_ps(d + 2 * u + j, m, dg);
            _mm512_mask_storeu_ps(d + 3 * u + j, m, dO);
            _mm512_mask_storeu_ps(dcn + j, m, _mm512_mul_ps(dc, sf));
            lstm_dbias16(dbias, 0, u, j, m, di);
            lstm_dbias16(dbias, 1, u, j, m, df);
            lstm_dbias16(dbias, 2, u, j, m, dg);
            lstm_dbias16(dbias, 3, u, j, m, dO);
        }
    }
}
AVX512 static void gru_forward_avx512(long b, long u, float *gates, long aw, const float *s, long lds, const float *bt_n,
                                      const float *h_prev, float *h, long ldh) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (long r = 0; r < b; r++) {
        float *g = gates + r * aw;
        const float *sr = s + r * lds, *hp = h_prev + r * ldh;
        for (long j = 0; j < u; j += 16) {
            __mmask16 m = mask16(u - j);
            __m512 rg = sigmoid16(_mm512_add_ps(_mm512_maskz_loadu_ps(m, g + j), _mm512_maskz_loadu_ps(m, sr + j)));
            __m512 z = sigmoid16(_mm512_add_ps(_mm512_maskz_loadu_ps(m, g + u + j), _mm512_maskz_loadu_ps(m, sr + u + j)));
            __m512 hn = _mm512_add_ps(_mm512_maskz_loadu_ps(m, sr + 2 * u + j), _mm512_maskz_loadu_ps(m, bt_n + j));
            __m512 n = tanh16(_mm512_fmadd_ps(rg, hn, _mm512_maskz_loadu_ps(m, g + 2 * u + j)));
            _mm512_mask_storeu_ps(g + j, m, rg);
            _mm512_mask_storeu_ps(g + u + j, m, z);
            _mm512_mask_storeu_ps(g + 2 * u + j, m, n);
            _mm512_mask_storeu_ps(g + 3 * u + j, m, hn);
            __m512 hv = _mm512_fmadd_ps(z, _mm512_maskz_loadu_ps(m, hp + j), _mm512_mul_ps(_mm512_sub_ps(one, z), n));
            _mm512_mask_storeu_ps(h + r * ldh + j, m, hv);
        }
    }
}

AVX512 static void gru_backward_avx512(long b, long u, const float *gates, long aw, const float *h_prev, long ldh,
                                       float *delta, long dw, float *dh_next) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (long r = 0; r < b; r++) {
        const float *g = gates + r * aw, *hp = h_prev + r * ldh;
        float *d = delta + r * dw, *dhn = dh_next + r * u;
        for (long j = 0; j < u; j += 16) {
            __mmask16 m = mask16(u - j);
            __m512 rg = _mm512_maskz_loadu_ps(m, g + j), z = _mm512_maskz_loadu_ps(m, g + u + j);
            __m512 nv = _mm512_maskz_loadu_ps(m, g + 2 * u + j), hn = _mm512_maskz_loadu_ps(m, g + 3 * u + j);
            __m512 dh = _mm512_add_ps(_mm512_maskz_loadu_ps(m, d + j), _mm512_maskz_loadu_ps(m, dhn + j));
            __m512 dnx = _mm512_mul_ps(_mm512_mul_ps(dh, _mm512_sub_ps(one, z)), _mm512_fnmadd_ps(nv, nv, one));
            __m512 dr = _mm512_mul_ps(_mm512_mul_ps(dnx, hn), _mm512_mul_ps(rg, _mm512_sub_ps(one, rg)));
            __m512 dz = _mm512_mul_ps(_mm512_mul_ps(dh, _mm512_sub_ps(_mm512_maskz_loadu_ps(m, hp + j), nv)),
                                      _mm512_mul_ps(z, _mm512_sub_ps(one, z)));
            _mm512_mask_storeu_ps(d + j, m, dr);
            _mm512_mask_storeu_ps(d + u + j, m, dz);
            _mm512_mask_storeu_ps(d + 2 * u + j, m, _mm512_mul_ps(dnx, rg));
            _mm512_mask_storeu_ps(d + 3 * u + j, m, dnx);
            _mm512_mask_storeu_ps(dhn + j, m, _mm512_mul_ps(dh, z));
        }
    }
}
/* Column sums in blocks of 64 columns (four accumulators), the last block masked. */
AVX512 static void column_sums_avx512(long rows, long cols, const float *x, long ldx, float *sums) {
    for (long j = 0; j < cols; j += 64) {
        __mmask16 m[4] = {mask16(cols - j), mask16(cols - j - 16), mask16(cols - j - 32), mask16(cols - j - 48)};
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
        for (long r = 0; r < rows; r++) {
            const float *xr = x + r * ldx + j;
            s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(m[0], xr));
            s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(m[1], xr + 16));
            s2 = _mm512_add_ps(s2, _mm512_maskz_loadu_ps(m[2], xr + 32));
            s3 = _mm512_add_ps(s3, _mm512_maskz_loadu_ps(m[3], xr + 48));
        }
        float *d = sums + j;
        _mm512_mask_storeu_ps(d, m[0], _mm512_add_ps(_mm512_maskz_loadu_ps(m[0], d), s0));
        _mm512_mask_storeu_ps(d + 16, m[1], _mm512_add_ps(_mm512_maskz_loadu_ps(m[1], d + 16), s1));
        _mm512_mask_storeu_ps(d + 32, m[2], _mm512_add_ps(_mm512_maskz_loadu_ps(m[2], d + 32), s2));
        _mm512_mask_storeu_ps(d + 48, m[3], _mm512_add_ps(_mm512_maskz_loadu_ps(m[3], d + 48), s3));
    }
}
AVX512 static double sum_squares_avx512(const float *x, long n) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), s2 = _mm512_setzero_pd(), s3 = _mm512_setzero_pd();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512d a = _mm512_cvtps_pd(_mm256_loadu_ps(x + i)), b = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
        __m512d c = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 16)), d = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 24));
        s0 = _mm512_fmadd_pd(a, a, s0); s1 = _mm512_fmadd_pd(b, b, s1);
        s2 = _mm512_fmadd_pd(c, c, s2); s3 = _mm512_fmadd_pd(d, d, s3);
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
    for (; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}

/* exp(p[i] - shift) in place, returning the sum (the softmax of a row of logits). */
AVX512 static float exp_avx512(float *p, long n, float shift) {
    __m512 s16 = _mm512_setzero_ps(), sh = _mm512_set1_ps(shift);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = mask16(n - i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + i), sh));
        _mm512_mask_storeu_ps(p + i, m, e);
        s16 = _mm512_add_ps(s16, _mm512_maskz_mov_ps(m, e));
    }
    return _mm512_reduce_add_ps(s16);
}
#endif





/* ---- LSTM cell (naive twins) --------------------------------------------------------------- */

void rnn_lstm_forward_naive(long b, long u, float *gates, long aw, const float *c_prev, float *h, long ldh,
                            const float *bias) {
    for (long r = 0; r < b; r++) {
        float *g = gates + r * aw;
        const float *cp = c_prev + r * aw;
        for (long j = 0; j < u; j++) {
            float pi = g[j], pf = g[u + j], pg = g[2 * u + j], po = g[3 * u + j];
            if (bias) { pi += bias[j]; pf += bias[u + j]; pg += bias[2 * u + j]; po += bias[3 * u + j]; }
            float si = sigmoid_poly(pi), sf = sigmoid_poly(pf);
            float tg = tanh_poly(pg), so = sigmoid_poly(po);
            float c = sf * cp[j] + si * tg, tc = tanh_poly(c);
            g[j] = si; g[u + j] = sf; g[2 * u + j] = tg; g[3 * u + j] = so;
            g[4 * u + j] = c; g[5 * u + j] = tc;
            h[r * ldh + j] = so * tc;
        }
    }
}

void rnn_lstm_backward_naive(long b, long u, const float *gates, long aw, const float *c_prev,
                             float *delta, long dw, const float *dh_next, float *dc_next, float *dbias) {
    for (long r = 0; r < b; r++) {
        const float *g = gates + r * aw, *cp = c_prev + r * aw, *dhn = dh_next + r * u;
        float *d = delta + r * dw, *dcn = dc_next + r * u;
        for (long j = 0; j < u; j++) {
            float si = g[j], sf = g[u + j], tg = g[2 * u + j], so = g[3 * u + j], tc = g[5 * u + j];
            float dh = d[j] + dhn[j];
            float dc = dcn[j] + dh * so * (1.0f - tc * tc);
            d[j] = dc * tg * si * (1.0f - si);
            d[u + j] = dc * cp[j] * sf * (1.0f - sf);
            d[2 * u + j] = dc * si * (1.0f - tg * tg);
            d[3 * u + j] = dh * tc * so * (1.0f - so);
            dcn[j] = dc * sf;
            if (dbias) for (long k = 0; k < 4; k++) dbias[k * u + j] += d[k * u + j];
        }
    }
}

/* ---- GRU cell (naive twins) ---------------------------------------------------------------- */

void rnn_gru_forward_naive(long b, long u, float *gates, long aw, const float *s, long lds, const float *bt_n,
                           const float *h_prev, float *h, long ldh) {
    for (long r = 0; r < b; r++) {
        float *g = gates + r * aw;
        const float *sr = s + r * lds, *hp = h_prev + r * ldh;
        for (long j = 0; j < u; j++) {
            float rg = sigmoid_poly(g[j] + sr[j]), z = sigmoid_poly(g[u + j] + sr[u + j]);
            float hn = sr[2 * u + j] + bt_n[j];
            float n = tanh_poly(g[2 * u + j] + rg * hn);
            g[j] = rg; g[u + j] = z; g[2 * u + j] = n; g[3 * u + j] = hn;
            h[r * ldh + j] = (1.0f - z) * n + z * hp[j];
        }
    }
}

void rnn_gru_backward_naive(long b, long u, const float *gates, long aw, const float *h_prev, long ldh,
                            float *delta, long dw, float *dh_next) {
    for (long r = 0; r < b; r++) {
        const float *g = gates + r * aw, *hp = h_prev + r * ldh;
        float *d = delta + r * dw, *dhn = dh_next + r * u;
        for (long j = 0; j < u; j++) {
            float rg = g[j], z = g[u + j], nv = g[2 * u + j], hn = g[3 * u + j];
            float dh = d[j] + dhn[j];
            float dnx = dh * (1.0f - z) * (1.0f - nv * nv);
            d[j] = dnx * hn * rg * (1.0f - rg);
            d[u + j] = dh * (hp[j] - nv) * z * (1.0f - z);
            d[2 * u + j] = dnx * rg;
            d[3 * u + j] = dnx;
            dhn[j] = dh * z;
        }
    }
}

/* ---- column sums (naive twin) -------------------------------------------------------------- */

void rnn_column_sums_naive(long rows, long cols, const float *x, long ldx, float *sums) {
    for (long j = 0; j < cols; j++) {
        float s = 0.0f;
        for (long r = 0; r < rows; r++) s += x[r * ldx + j];
        sums[j] += s;
    }
}

/* ---- sum of squares (naive twin) ----------------------------------------------------------- */

double rnn_sum_squares_naive(const float *x, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* CPU features, read once: pthread_once makes the first call from several threads race-free
   (the trainer may be driven from worker threads of a sweep). */
static int use_avx2 = 0, use_avx512 = 0;
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static void read_features(void) {
#if RNN_X86
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    use_avx512 = use_avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#endif
}

int rnn_kernels_avx2(void) {
    pthread_once(&features_once, read_features);
    return use_avx2;
}

int rnn_kernels_avx512(void) {
    pthread_once(&features_once, read_features);
    return use_avx512;
}

void rnn_pack_b(long k, long n, const float *b, long rs, long cs, float *packed) {
#if RNN_X86
    if (rs == 1 && cs != 1 && rnn_kernels_avx512()) { pack_b_transposed_avx512(k, n, b, cs, packed); return; }
#endif
    rnn_pack_b_naive(k, n, b, rs, cs, packed);
}

void rnn_sgemm_packed(long m, long n, long k, const float *a, long lda, const float *packed,
                      float *c, long ldc, int epi, const float *h, long ldh) {
#if RNN_X86
    if (rnn_kernels_avx512()) { sgemm_packed_avx512(m, n, k, a, lda, packed, c, ldc, epi, h, ldh); return; }
#endif
    rnn_sgemm_packed_naive(m, n, k, a, lda, packed, c, ldc, epi, h, ldh);
}

void rnn_tanh_f32(float *p, long n) {
#if RNN_X86
    if (rnn_kernels_avx2()) { tanh_avx2(p, n); return; }
#endif
    tanh_generic(p, n);
}

void rnn_sigmoid_f32(float *p, long n) {
#if RNN_X86
    if (rnn_kernels_avx2()) { sigmoid_avx2(p, n); return; }
#endif
    sigmoid_generic(p, n);
}

float rnn_exp_shift_sum_f32(float *p, long n, float shift) {
#if RNN_X86
    if (rnn_kernels_avx512()) return exp_avx512(p, n, shift);
    if (rnn_kernels_avx2()) return exp_avx2(p, n, shift);
#endif
    return exp_generic(p, n, shift);
}

void rnn_sgemm_nn_acc(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                      float *c, long ldc) {
#if RNN_X86
    if (rnn_kernels_avx2()) { gemm_avx2(m, n, k, a, lda, b, ldb, c, ldc); return; }
#endif
    gemm_generic(m, n, k, a, lda, b, ldb, c, ldc);
}

void rnn_lstm_forward_f32(long b, long u, float *gates, long aw, const float *c_prev, float *h, long ldh,
                          const float *bias) {
#if RNN_X86
    if (rnn_kernels_avx512()) { lstm_forward_avx512(b, u, gates, aw, c_prev, h, ldh, bias); return; }
#endif
    rnn_lstm_forward_naive(b, u, gates, aw, c_prev, h, ldh, bias);
}

void rnn_lstm_backward_f32(long b, long u, const float *gates, long aw, const float *c_prev,
                           float *delta, long dw, const float *dh_next, float *dc_next, float *dbias) {
#if RNN_X86
    if (rnn_kernels_avx512()) { lstm_backward_avx512(b, u, gates, aw, c_prev, delta, dw, dh_next, dc_next, dbias); return; }
#endif
    rnn_lstm_backward_naive(b, u, gates, aw, c_prev, delta, dw, dh_next, dc_next, dbias);
}

void rnn_gru_forward_f32(long b, long u, float *gates, long aw, const float *s, long lds, const float *bt_n,
                         const float *h_prev, float *h, long ldh) {
#if RNN_X86
    if (rnn_kernels_avx512()) { gru_forward_avx512(b, u, gates, aw, s, lds, bt_n, h_prev, h, ldh); return; }
#endif
    rnn_gru_forward_naive(b, u, gates, aw, s, lds, bt_n, h_prev, h, ldh);
}

void rnn_gru_backward_f32(long b, long u, const float *gates, long aw, const float *h_prev, long ldh,
                          float *delta, long dw, float *dh_next) {
#if RNN_X86
    if (rnn_kernels_avx512()) { gru_backward_avx512(b, u, gates, aw, h_prev, ldh, delta, dw, dh_next); return; }
#endif
    rnn_gru_backward_naive(b, u, gates, aw, h_prev, ldh, delta, dw, dh_next);
}

void rnn_column_sums_f32(long rows, long cols, const float *x, long ldx, float *sums) {
#if RNN_X86
    if (rnn_kernels_avx512()) { column_sums_avx512(rows, cols, x, ldx, sums); return; }
#endif
    rnn_column_sums_naive(rows, cols, x, ldx, sums);
}

double rnn_sum_squares_f32(const float *x, long n) {
#if RNN_X86
    if (rnn_kernels_avx512()) return sum_squares_avx512(x, n);
#endif
    return rnn_sum_squares_naive(x, n);
}

void rnn_transpose_naive(long rows, long cols, const float *src, long lds, float *dst, long ldd) {
    for (long r = 0; r < rows; r++)
        for (long c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
}

void rnn_transpose_f32(long rows, long cols, const float *src, long lds, float *dst, long ldd) {
#if RNN_X86
    if (rnn_kernels_avx512()) { transpose_avx512(rows, cols, src, lds, dst, ldd); return; }
#endif
    rnn_transpose_naive(rows, cols, src, lds, dst, ldd);
}
