#include "RNNKernels.h"
#include <math.h>
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

/* ---- dispatch ------------------------------------------------------------------------------ */

static int use_avx2 = -1;

int rnn_kernels_avx2(void) {
    if (use_avx2 < 0) {
#if RNN_X86
        __builtin_cpu_init();
        use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        use_avx2 = 0;
#endif
    }
    return use_avx2;
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
