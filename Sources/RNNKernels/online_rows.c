/* Row kernels of the online algorithms (SPEC 3.3): the influence rows of SnAp-1 and RFLO, UORO's
   parameter tangent and RTRL's immediate influence are all "each row r of a block gets a scaled
   copy of one short vector" (x, h_{n-1}) or "each row is added, scaled, to another block". The
   rows are short (a layer's inputs or units), so the work is in many small AXPYs: these run them
   with AVX-512 or AVX2+FMA (chosen at run time, like the other kernels), the portable versions
   being the naive twins the tests compare with. */
#include "RNNKernels.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define ROWS_X86 1
#endif

void rnn_rows_scale_add_naive(long rows, long n, float *m, long ldm, const float *a, long sa,
                              const float *d, long sd, const float *v, long sv) {
    for (long r = 0; r < rows; r++) {
        float ar = a[r * sa], dr = d[r * sd];
        float *row = m + r * ldm;
        const float *vr = v + r * sv;
        for (long j = 0; j < n; j++) row[j] = ar * row[j] + dr * vr[j];
    }
}

void rnn_rows_axpy_naive(long rows, long n, float *dst, long ldd, const float *s, long ss,
                         const float *src, long lds) {
    for (long r = 0; r < rows; r++) {
        float sr = s[r * ss];
        float *out = dst + r * ldd;
        const float *in = src + r * lds;
        for (long j = 0; j < n; j++) out[j] += sr * in[j];
    }
}

#if ROWS_X86
#define ROWS_AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
#define ROWS_AVX2 __attribute__((target("avx2,fma")))

/* Tails are scalar, not masked: a masked 512-bit store at the end of one row blocks the next
   row's first load from store forwarding (their 64-byte ranges overlap when rows are adjacent,
   as a (rows, n) block is), which cost ~10 cycles a row on AMD Zen 4. */
ROWS_AVX512 static void scale_add_avx512(long rows, long n, float *m, long ldm, const float *a, long sa,
                                         const float *d, long sd, const float *v, long sv) {
    long full = n & ~15L;
    for (long r = 0; r < rows; r++) {
        float a0 = a[r * sa], d0 = d[r * sd];
        __m512 ar = _mm512_set1_ps(a0), dr = _mm512_set1_ps(d0);
        float *row = m + r * ldm;
        const float *vr = v + r * sv;
        for (long j = 0; j < full; j += 16)
            _mm512_storeu_ps(row + j, _mm512_fmadd_ps(ar, _mm512_loadu_ps(row + j), _mm512_mul_ps(dr, _mm512_loadu_ps(vr + j))));
        for (long j = full; j < n; j++) row[j] = fmaf(a0, row[j], d0 * vr[j]);
    }
}

ROWS_AVX512 static void axpy_avx512(long rows, long n, float *dst, long ldd, const float *s, long ss,
                                    const float *src, long lds) {
    long full = n & ~15L;
    for (long r = 0; r < rows; r++) {
        float s0 = s[r * ss];
        __m512 sr = _mm512_set1_ps(s0);
        float *out = dst + r * ldd;
        const float *in = src + r * lds;
        for (long j = 0; j < full; j += 16)
            _mm512_storeu_ps(out + j, _mm512_fmadd_ps(sr, _mm512_loadu_ps(in + j), _mm512_loadu_ps(out + j)));
        for (long j = full; j < n; j++) out[j] = fmaf(s0, in[j], out[j]);
    }
}

ROWS_AVX2 static void scale_add_avx2(long rows, long n, float *m, long ldm, const float *a, long sa,
                                     const float *d, long sd, const float *v, long sv) {
    long full = n & ~7L;
    for (long r = 0; r < rows; r++) {
        float a0 = a[r * sa], d0 = d[r * sd];
        __m256 ar = _mm256_set1_ps(a0), dr = _mm256_set1_ps(d0);
        float *row = m + r * ldm;
        const float *vr = v + r * sv;
        for (long j = 0; j < full; j += 8)
            _mm256_storeu_ps(row + j, _mm256_fmadd_ps(ar, _mm256_loadu_ps(row + j), _mm256_mul_ps(dr, _mm256_loadu_ps(vr + j))));
        for (long j = full; j < n; j++) row[j] = fmaf(a0, row[j], d0 * vr[j]);
    }
}

ROWS_AVX2 static void axpy_avx2(long rows, long n, float *dst, long ldd, const float *s, long ss,
                                const float *src, long lds) {
    long full = n & ~7L;
    for (long r = 0; r < rows; r++) {
        float s0 = s[r * ss];
        __m256 sr = _mm256_set1_ps(s0);
        float *out = dst + r * ldd;
        const float *in = src + r * lds;
        for (long j = 0; j < full; j += 8)
            _mm256_storeu_ps(out + j, _mm256_fmadd_ps(sr, _mm256_loadu_ps(in + j), _mm256_loadu_ps(out + j)));
        for (long j = full; j < n; j++) out[j] = fmaf(s0, in[j], out[j]);
    }
}
#endif

void rnn_rows_scale_add_f32(long rows, long n, float *m, long ldm, const float *a, long sa,
                            const float *d, long sd, const float *v, long sv) {
#if ROWS_X86
    if (rnn_kernels_avx512()) { scale_add_avx512(rows, n, m, ldm, a, sa, d, sd, v, sv); return; }
    if (rnn_kernels_avx2()) { scale_add_avx2(rows, n, m, ldm, a, sa, d, sd, v, sv); return; }
#endif
    rnn_rows_scale_add_naive(rows, n, m, ldm, a, sa, d, sd, v, sv);
}

void rnn_rows_axpy_f32(long rows, long n, float *dst, long ldd, const float *s, long ss,
                       const float *src, long lds) {
#if ROWS_X86
    if (rnn_kernels_avx512()) { axpy_avx512(rows, n, dst, ldd, s, ss, src, lds); return; }
    if (rnn_kernels_avx2()) { axpy_avx2(rows, n, dst, ldd, s, ss, src, lds); return; }
#endif
    rnn_rows_axpy_naive(rows, n, dst, ldd, s, ss, src, lds);
}
