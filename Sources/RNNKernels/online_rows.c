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

double rnn_rows_update_naive(long rows, long n, float *m, long ldm, const float *a, long sa,
                             const float *d, long sd, const float *v, long sv, int norm) {
    float squares = 0;
    for (long r = 0; r < rows; r++) {
        float ar = a[r * sa], dr = d[r * sd];
        float *row = m + r * ldm;
        const float *vr = v + r * sv;
        for (long j = 0; j < n; j++) {
            float y = ar * row[j] + dr * vr[j];
            row[j] = y;
            squares += y * y;
        }
    }
    return norm ? (double)squares : 0;
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

void rnn_rows_weighted_sum_naive(long rows, long n, float *dst, long ldd, long terms, const float *s, long st,
                                 long sr, const float *src, long lt, long lds) {
    for (long r = 0; r < rows; r++) {
        float *out = dst + r * ldd;
        for (long j = 0; j < n; j++) {
            float sum = 0;
            for (long t = 0; t < terms; t++) sum += s[t * st + r * sr] * src[t * lt + r * lds + j];
            out[j] += sum;
        }
    }
}

void rnn_rows_carry_naive(long rows, long n, long count, const long *lanes, float *m, long ldr, long ldl,
                          const float *d, long sdt, const float *diag, float lambda, const float *v, long ldv,
                          const float *e, long set, float *g, long ldg) {
    for (long r = 0; r < rows; r++) {
        float *out = g + r * ldg;
        if (e) for (long j = 0; j < n; j++) out[j] = 0;
        for (long q = 0; q < count; q++) {
            long t = lanes[q];
            float dr = d[t * sdt + r];
            float ar = diag ? dr * diag[r] : lambda;
            float *row = m + r * ldr + t * ldl;
            const float *vt = v + t * ldv;
            for (long j = 0; j < n; j++) row[j] = ar * row[j] + dr * vt[j];
            if (e) {
                float er = e[t * set + r];
                for (long j = 0; j < n; j++) out[j] += er * row[j];
            }
        }
    }
}

#if ROWS_X86
#define ROWS_AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
#define ROWS_AVX2 __attribute__((target("avx2,fma")))

/* Tails are scalar, not masked: a masked 512-bit store at the end of one row blocks the next
   row's first load from store forwarding (their 64-byte ranges overlap when rows are adjacent,
   as a (rows, n) block is), which cost ~10 cycles a row on AMD Zen 4. The squares are summed in
   16 float32 lanes (and the tails in one) over the whole block, reduced once. */
ROWS_AVX512 static double update_avx512(long rows, long n, float *m, long ldm, const float *a, long sa,
                                        const float *d, long sd, const float *v, long sv, int norm) {
    long full = n & ~15L;
    /* Each row's squares start a fresh register and join one of four running sums in turn: one
       running sum would chain every row's FMAs (4-cycle latency each) behind the last. */
    __m512 q0 = _mm512_setzero_ps(), q1 = _mm512_setzero_ps(), q2 = _mm512_setzero_ps(), q3 = _mm512_setzero_ps();
    float tail = 0;
    for (long r = 0; r < rows; r++) {
        float a0 = a[r * sa], d0 = d[r * sd];
        __m512 ar = _mm512_set1_ps(a0), dr = _mm512_set1_ps(d0);
        float *row = m + r * ldm;
        const float *vr = v + r * sv;
        __m512 sq = _mm512_setzero_ps();
        for (long j = 0; j < full; j += 16) {
            __m512 y = _mm512_fmadd_ps(ar, _mm512_loadu_ps(row + j), _mm512_mul_ps(dr, _mm512_loadu_ps(vr + j)));
            _mm512_storeu_ps(row + j, y);
            sq = _mm512_fmadd_ps(y, y, sq);
        }
        for (long j = full; j < n; j++) {
            float y = fmaf(a0, row[j], d0 * vr[j]);
            row[j] = y;
            tail = fmaf(y, y, tail);
        }
        __m512 t = q0;
        q0 = q1; q1 = q2; q2 = q3; q3 = _mm512_add_ps(t, sq);
    }
    return norm ? (double)_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(q0, q1), _mm512_add_ps(q2, q3))) + (double)tail : 0;
}

/* The outer-product form of rnn_rows_update (one scalar a, one v for every row: UORO's tangent
   rows θ̃[row r] = θ̃ / ρ0 + (cs_r / ρ1) x) with n a multiple of 16 up to 64: v stays in registers
   and each row is its d broadcast and n / 16 vectors (the general loop spent more on each short
   row's setup than on its one or two vectors). One instance per vector count and norm flag. */
ROWS_AVX512 static inline __attribute__((always_inline)) double
outer_rows(long rows, float *m, long ldm, float a0, const float *d, long sd, const float *v, const int vectors,
           const int norm) {
    __m512 ar = _mm512_set1_ps(a0);
    __m512 v0 = _mm512_loadu_ps(v), v1 = vectors > 1 ? _mm512_loadu_ps(v + 16) : v0;
    __m512 v2 = vectors > 2 ? _mm512_loadu_ps(v + 32) : v0, v3 = vectors > 3 ? _mm512_loadu_ps(v + 48) : v0;
    /* Squares in two sets of running sums, even and odd rows (one set would chain every row's
       FMA, 4 cycles each, behind the last). */
    __m512 q0 = _mm512_setzero_ps(), q1 = _mm512_setzero_ps(), q2 = _mm512_setzero_ps(), q3 = _mm512_setzero_ps();
    __m512 p0 = _mm512_setzero_ps(), p1 = _mm512_setzero_ps(), p2 = _mm512_setzero_ps(), p3 = _mm512_setzero_ps();
#define OUTER_ROW(r, s0, s1, s2, s3)                                                                 \
    {                                                                                                \
        __m512 dr = _mm512_set1_ps(d[(r) * sd]);                                                     \
        float *row = m + (r) * ldm;                                                                  \
        OUTER_VECTOR(0, v0, s0)                                                                      \
        OUTER_VECTOR(1, v1, s1)                                                                      \
        OUTER_VECTOR(2, v2, s2)                                                                      \
        OUTER_VECTOR(3, v3, s3)                                                                      \
    }
#define OUTER_VECTOR(k, vk, qk)                                                                      \
        if (vectors > k) {                                                                           \
            __m512 y = _mm512_fmadd_ps(ar, _mm512_loadu_ps(row + 16 * k), _mm512_mul_ps(dr, vk));    \
            _mm512_storeu_ps(row + 16 * k, y);                                                       \
            if (norm) qk = _mm512_fmadd_ps(y, y, qk);                                                \
        }
    long r = 0;
    for (; r + 2 <= rows; r += 2) {
        OUTER_ROW(r, q0, q1, q2, q3)
        OUTER_ROW(r + 1, p0, p1, p2, p3)
    }
    if (r < rows) OUTER_ROW(r, q0, q1, q2, q3)
#undef OUTER_VECTOR
#undef OUTER_ROW
    q0 = _mm512_add_ps(q0, p0); q1 = _mm512_add_ps(q1, p1); q2 = _mm512_add_ps(q2, p2); q3 = _mm512_add_ps(q3, p3);
    return norm ? (double)_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(q0, q1), _mm512_add_ps(q2, q3))) : 0;
}

ROWS_AVX512 static double outer_avx512(long rows, long n, float *m, long ldm, float a0, const float *d, long sd,
                                       const float *v, int norm) {
    switch (n / 16) {
    case 1: return norm ? outer_rows(rows, m, ldm, a0, d, sd, v, 1, 1) : outer_rows(rows, m, ldm, a0, d, sd, v, 1, 0);
    case 2: return norm ? outer_rows(rows, m, ldm, a0, d, sd, v, 2, 1) : outer_rows(rows, m, ldm, a0, d, sd, v, 2, 0);
    case 3: return norm ? outer_rows(rows, m, ldm, a0, d, sd, v, 3, 1) : outer_rows(rows, m, ldm, a0, d, sd, v, 3, 0);
    default: return norm ? outer_rows(rows, m, ldm, a0, d, sd, v, 4, 1) : outer_rows(rows, m, ldm, a0, d, sd, v, 4, 0);
    }
}

/* One column (n = 1) of contiguous rows (ldm = 1, as a bias block is), one scalar a and one v:
   m[r] = a m[r] + d[r] v, vectorised over the rows. */
ROWS_AVX512 static double column_avx512(long rows, float *m, float a0, const float *d, float v0, int norm) {
    __m512 ar = _mm512_set1_ps(a0), vr = _mm512_set1_ps(v0), sq = _mm512_setzero_ps();
    long full = rows & ~15L;
    for (long r = 0; r < full; r += 16) {
        __m512 y = _mm512_fmadd_ps(ar, _mm512_loadu_ps(m + r), _mm512_mul_ps(_mm512_loadu_ps(d + r), vr));
        _mm512_storeu_ps(m + r, y);
        sq = _mm512_fmadd_ps(y, y, sq);
    }
    float tail = 0;
    for (long r = full; r < rows; r++) {
        float y = fmaf(a0, m[r], d[r] * v0);
        m[r] = y;
        tail = fmaf(y, y, tail);
    }
    return norm ? (double)_mm512_reduce_add_ps(sq) + (double)tail : 0;
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

ROWS_AVX2 static inline float hsum256(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

ROWS_AVX2 static double update_avx2(long rows, long n, float *m, long ldm, const float *a, long sa,
                                    const float *d, long sd, const float *v, long sv, int norm) {
    long full = n & ~7L;
    __m256 sq = _mm256_setzero_ps();
    float tail = 0;
    for (long r = 0; r < rows; r++) {
        float a0 = a[r * sa], d0 = d[r * sd];
        __m256 ar = _mm256_set1_ps(a0), dr = _mm256_set1_ps(d0);
        float *row = m + r * ldm;
        const float *vr = v + r * sv;
        for (long j = 0; j < full; j += 8) {
            __m256 y = _mm256_fmadd_ps(ar, _mm256_loadu_ps(row + j), _mm256_mul_ps(dr, _mm256_loadu_ps(vr + j)));
            _mm256_storeu_ps(row + j, y);
            sq = _mm256_fmadd_ps(y, y, sq);
        }
        for (long j = full; j < n; j++) {
            float y = fmaf(a0, row[j], d0 * vr[j]);
            row[j] = y;
            tail = fmaf(y, y, tail);
        }
    }
    return norm ? (double)hsum256(sq) + (double)tail : 0;
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
/* dst row r += Σ_t s_t,r src_t row r, 64 columns (four vectors) at a time held in registers over
   all terms: the block is read once, and each dst row written once (not once per term). */
ROWS_AVX512 static void weighted_sum_avx512(long rows, long n, float *dst, long ldd, long terms, const float *s,
                                            long st, long sr, const float *src, long lt, long lds) {
    for (long r = 0; r < rows; r++) {
        float *out = dst + r * ldd;
        const float *in = src + r * lds;
        const float *sv = s + r * sr;
        long j = 0;
        for (; j + 64 <= n; j += 64) {
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
            for (long t = 0; t < terms; t++) {
                __m512 w = _mm512_set1_ps(sv[t * st]);
                const float *x = in + t * lt + j;
                a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x), a0);
                a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 16), a1);
                a2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 32), a2);
                a3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 48), a3);
            }
            _mm512_storeu_ps(out + j, _mm512_add_ps(_mm512_loadu_ps(out + j), a0));
            _mm512_storeu_ps(out + j + 16, _mm512_add_ps(_mm512_loadu_ps(out + j + 16), a1));
            _mm512_storeu_ps(out + j + 32, _mm512_add_ps(_mm512_loadu_ps(out + j + 32), a2));
            _mm512_storeu_ps(out + j + 48, _mm512_add_ps(_mm512_loadu_ps(out + j + 48), a3));
        }
        /* Fewer than 64 columns left: four running sums over the terms in turn (one sum would
           chain every term's FMA, 4 cycles each, behind the last). */
        for (; j + 16 <= n; j += 16) {
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
            long t = 0;
            for (; t + 4 <= terms; t += 4) {
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(sv[t * st]), _mm512_loadu_ps(in + t * lt + j), a0);
                a1 = _mm512_fmadd_ps(_mm512_set1_ps(sv[(t + 1) * st]), _mm512_loadu_ps(in + (t + 1) * lt + j), a1);
                a2 = _mm512_fmadd_ps(_mm512_set1_ps(sv[(t + 2) * st]), _mm512_loadu_ps(in + (t + 2) * lt + j), a2);
                a3 = _mm512_fmadd_ps(_mm512_set1_ps(sv[(t + 3) * st]), _mm512_loadu_ps(in + (t + 3) * lt + j), a3);
            }
            for (; t < terms; t++)
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(sv[t * st]), _mm512_loadu_ps(in + t * lt + j), a0);
            __m512 sum = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
            _mm512_storeu_ps(out + j, _mm512_add_ps(_mm512_loadu_ps(out + j), sum));
        }
        for (; j < n; j++) {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            long t = 0;
            for (; t + 4 <= terms; t += 4) {
                s0 = fmaf(sv[t * st], in[t * lt + j], s0);
                s1 = fmaf(sv[(t + 1) * st], in[(t + 1) * lt + j], s1);
                s2 = fmaf(sv[(t + 2) * st], in[(t + 2) * lt + j], s2);
                s3 = fmaf(sv[(t + 3) * st], in[(t + 3) * lt + j], s3);
            }
            for (; t < terms; t++) s0 = fmaf(sv[t * st], in[t * lt + j], s0);
            out[j] += (s0 + s1) + (s2 + s3);
        }
    }
}

ROWS_AVX2 static void weighted_sum_avx2(long rows, long n, float *dst, long ldd, long terms, const float *s,
                                        long st, long sr, const float *src, long lt, long lds) {
    for (long r = 0; r < rows; r++) {
        float *out = dst + r * ldd;
        const float *in = src + r * lds;
        const float *sv = s + r * sr;
        long j = 0;
        for (; j + 32 <= n; j += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
            for (long t = 0; t < terms; t++) {
                __m256 w = _mm256_set1_ps(sv[t * st]);
                const float *x = in + t * lt + j;
                a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x), a0);
                a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8), a1);
                a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 16), a2);
                a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 24), a3);
            }
            _mm256_storeu_ps(out + j, _mm256_add_ps(_mm256_loadu_ps(out + j), a0));
            _mm256_storeu_ps(out + j + 8, _mm256_add_ps(_mm256_loadu_ps(out + j + 8), a1));
            _mm256_storeu_ps(out + j + 16, _mm256_add_ps(_mm256_loadu_ps(out + j + 16), a2));
            _mm256_storeu_ps(out + j + 24, _mm256_add_ps(_mm256_loadu_ps(out + j + 24), a3));
        }
        for (; j + 8 <= n; j += 8) {
            __m256 a0 = _mm256_setzero_ps();
            for (long t = 0; t < terms; t++)
                a0 = _mm256_fmadd_ps(_mm256_set1_ps(sv[t * st]), _mm256_loadu_ps(in + t * lt + j), a0);
            _mm256_storeu_ps(out + j, _mm256_add_ps(_mm256_loadu_ps(out + j), a0));
        }
        for (; j < n; j++) {
            float sum = 0;
            for (long t = 0; t < terms; t++) sum = fmaf(sv[t * st], in[t * lt + j], sum);
            out[j] += sum;
        }
    }
}
/* The carry of rnn_rows_carry row by row, every listed lane's copy of the row one after the other
   (the lanes' copies of a row are adjacent in memory, so the block streams through once), the
   gradient row held in registers over the lanes and written once: per row the block is read once
   and written once, and nothing else is. A row goes in groups of up to 64 columns; the last
   group's columns past its whole 16-column vectors (an rnn row's bias column, say) take one
   masked vector, 256 bits wide when at most 8 columns are left. The multiply-adds are the
   bottleneck (Zen 4 issues one 512-bit FMA per cycle; a 256-bit one costs half), so the lane loop
   carries nothing else: carry_group is instantiated for each vector count, tail kind, factor
   (SnAp-1, RFLO, RFLO with λ = 0: the default, whose carry never reads the old row) and with or
   without the gradient (a loop testing them per lane ran 1.5× slower).
   The masked store cannot delay a later load: the next lane's row starts past it. */
#define ROWS_AVX512VL __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))
enum { TAIL_NONE = 0, TAIL_NARROW = 1, TAIL_WIDE = 2 };

ROWS_AVX512VL static inline __attribute__((always_inline)) void
carry_group(long r, long j, long count, const long *lanes, float *mr, long ldl, const float *d, long sdt, float dg,
            float lambda, const float *v, long ldv, const float *e, long set, float *out,
            const int vectors, const int tailKind, long tail, const int snap, const int grad) {
    /* snap: 1 SnAp-1 (a = d · TW[r, r]), 0 RFLO (a = λ), 2 RFLO with λ = 0 (the old row is not
       read: M̄_n = σ'(z_n) â_n). */
    __mmask16 m16 = (__mmask16)((1u << tail) - 1);
    __mmask8 m8 = (__mmask8)((1u << (tail < 8 ? tail : 8)) - 1);
    __m512 g0 = _mm512_setzero_ps(), g1 = _mm512_setzero_ps(), g2 = _mm512_setzero_ps(), g3 = _mm512_setzero_ps();
    __m512 gt = _mm512_setzero_ps();
    __m256 gn = _mm256_setzero_ps();
    const float *vj = v + j;
    for (long q = 0; q < count; q++) {
        long t = lanes[q];
        float dr = d[t * sdt + r];
        __m512 a = _mm512_set1_ps(snap == 1 ? dr * dg : lambda), dd = _mm512_set1_ps(dr);
        __m512 w = grad ? _mm512_set1_ps(e[t * set + r]) : _mm512_setzero_ps();
        float *x = mr + t * ldl + j;
        const float *vt = vj + t * ldv;
#define CARRY_VECTOR(k, acc)                                                                                   \
        if (vectors > k) {                                                                                     \
            __m512 dv = _mm512_mul_ps(dd, _mm512_loadu_ps(vt + 16 * k));                                     \
            __m512 y = snap == 2 ? dv : _mm512_fmadd_ps(a, _mm512_loadu_ps(x + 16 * k), dv);                   \
            _mm512_storeu_ps(x + 16 * k, y);                                                                   \
            if (grad) acc = _mm512_fmadd_ps(w, y, acc);                                                        \
        }
        CARRY_VECTOR(0, g0)
        CARRY_VECTOR(1, g1)
        CARRY_VECTOR(2, g2)
        CARRY_VECTOR(3, g3)
#undef CARRY_VECTOR
        if (tailKind == TAIL_NARROW) {
            float *xt = x + 16 * vectors;
            __m256 dv = _mm256_mul_ps(_mm512_castps512_ps256(dd), _mm256_maskz_loadu_ps(m8, vt + 16 * vectors));
            __m256 y = snap == 2 ? dv : _mm256_fmadd_ps(_mm512_castps512_ps256(a), _mm256_maskz_loadu_ps(m8, xt), dv);
            _mm256_mask_storeu_ps(xt, m8, y);
            if (grad) gn = _mm256_fmadd_ps(_mm512_castps512_ps256(w), y, gn);
        } else if (tailKind == TAIL_WIDE) {
            float *xt = x + 16 * vectors;
            __m512 dv = _mm512_mul_ps(dd, _mm512_maskz_loadu_ps(m16, vt + 16 * vectors));
            __m512 y = snap == 2 ? dv : _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m16, xt), dv);
            _mm512_mask_storeu_ps(xt, m16, y);
            if (grad) gt = _mm512_fmadd_ps(w, y, gt);
        }
    }
    if (!grad) return;
    if (vectors > 0) _mm512_storeu_ps(out + j, g0);
    if (vectors > 1) _mm512_storeu_ps(out + j + 16, g1);
    if (vectors > 2) _mm512_storeu_ps(out + j + 32, g2);
    if (vectors > 3) _mm512_storeu_ps(out + j + 48, g3);
    if (tailKind == TAIL_NARROW) _mm256_mask_storeu_ps(out + j + 16 * vectors, m8, gn);
    if (tailKind == TAIL_WIDE) _mm512_mask_storeu_ps(out + j + 16 * vectors, m16, gt);
}

/* carry_group with every flag a constant: one instance per (snap, grad) for a vector count and
   tail kind. */
#define CARRY_GROUP(V, T, MODE, GRAD) carry_group(r, j, count, lanes, mr, ldl, d, sdt, dg, lambda, v, ldv, e, set, out, V, T, tail, MODE, GRAD)
#define CARRY_FLAGS(V, T)                                                                                          \
    do {                                                                                                           \
        if (diag) { if (e) CARRY_GROUP(V, T, 1, 1); else CARRY_GROUP(V, T, 1, 0); }                                \
        else if (lambda == 0) { if (e) CARRY_GROUP(V, T, 2, 1); else CARRY_GROUP(V, T, 2, 0); }                    \
        else { if (e) CARRY_GROUP(V, T, 0, 1); else CARRY_GROUP(V, T, 0, 0); }                                     \
    } while (0)
#define CARRY_TAILS(V)                                                                                             \
    do {                                                                                                           \
        if (tail == 0) CARRY_FLAGS(V, TAIL_NONE);                                                                  \
        else if (tail <= 8) CARRY_FLAGS(V, TAIL_NARROW);                                                           \
        else CARRY_FLAGS(V, TAIL_WIDE);                                                                            \
    } while (0)

ROWS_AVX512VL static void carry_avx512(long rows, long n, long count, const long *lanes, float *m, long ldr, long ldl,
                                       const float *d, long sdt, const float *diag, float lambda, const float *v,
                                       long ldv, const float *e, long set, float *g, long ldg) {
    for (long r = 0; r < rows; r++) {
        float *mr = m + r * ldr, *out = g + r * ldg;
        float dg = diag ? diag[r] : 0;
        for (long j = 0; j < n; j += 64) {
            long width = n - j < 64 ? n - j : 64;
            long tail = width % 16;
            switch (width / 16) {
            case 0: CARRY_TAILS(0); break;
            case 1: CARRY_TAILS(1); break;
            case 2: CARRY_TAILS(2); break;
            case 3: CARRY_TAILS(3); break;
            default: CARRY_FLAGS(4, TAIL_NONE); break;
            }
        }
    }
}
#undef CARRY_TAILS
#undef CARRY_FLAGS
#undef CARRY_GROUP

ROWS_AVX2 static void carry_avx2(long rows, long n, long count, const long *lanes, float *m, long ldr, long ldl,
                                 const float *d, long sdt, const float *diag, float lambda, const float *v,
                                 long ldv, const float *e, long set, float *g, long ldg) {
    for (long r = 0; r < rows; r++) {
        float *mr = m + r * ldr, *out = g + r * ldg;
        float dg = diag ? diag[r] : 0;
        long j = 0;
        for (; j + 32 <= n; j += 32) {
            __m256 g0 = _mm256_setzero_ps(), g1 = _mm256_setzero_ps(), g2 = _mm256_setzero_ps(), g3 = _mm256_setzero_ps();
            for (long q = 0; q < count; q++) {
                long t = lanes[q];
                float dr = d[t * sdt + r];
                __m256 a = _mm256_set1_ps(diag ? dr * dg : lambda), dd = _mm256_set1_ps(dr);
                float *x = mr + t * ldl + j;
                const float *vt = v + t * ldv + j;
                __m256 y0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x), _mm256_mul_ps(dd, _mm256_loadu_ps(vt)));
                __m256 y1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 8), _mm256_mul_ps(dd, _mm256_loadu_ps(vt + 8)));
                __m256 y2 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 16), _mm256_mul_ps(dd, _mm256_loadu_ps(vt + 16)));
                __m256 y3 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 24), _mm256_mul_ps(dd, _mm256_loadu_ps(vt + 24)));
                _mm256_storeu_ps(x, y0);
                _mm256_storeu_ps(x + 8, y1);
                _mm256_storeu_ps(x + 16, y2);
                _mm256_storeu_ps(x + 24, y3);
                if (e) {
                    __m256 w = _mm256_set1_ps(e[t * set + r]);
                    g0 = _mm256_fmadd_ps(w, y0, g0);
                    g1 = _mm256_fmadd_ps(w, y1, g1);
                    g2 = _mm256_fmadd_ps(w, y2, g2);
                    g3 = _mm256_fmadd_ps(w, y3, g3);
                }
            }
            if (e) {
                _mm256_storeu_ps(out + j, g0);
                _mm256_storeu_ps(out + j + 8, g1);
                _mm256_storeu_ps(out + j + 16, g2);
                _mm256_storeu_ps(out + j + 24, g3);
            }
        }
        for (; j + 8 <= n; j += 8) {
            __m256 g0 = _mm256_setzero_ps();
            for (long q = 0; q < count; q++) {
                long t = lanes[q];
                float dr = d[t * sdt + r];
                float *x = mr + t * ldl + j;
                __m256 y = _mm256_fmadd_ps(_mm256_set1_ps(diag ? dr * dg : lambda), _mm256_loadu_ps(x),
                                           _mm256_mul_ps(_mm256_set1_ps(dr), _mm256_loadu_ps(v + t * ldv + j)));
                _mm256_storeu_ps(x, y);
                if (e) g0 = _mm256_fmadd_ps(_mm256_set1_ps(e[t * set + r]), y, g0);
            }
            if (e) _mm256_storeu_ps(out + j, g0);
        }
        for (; j < n; j++) {
            float sum = 0;
            for (long q = 0; q < count; q++) {
                long t = lanes[q];
                float dr = d[t * sdt + r];
                float *x = mr + t * ldl + j;
                float y = fmaf(diag ? dr * dg : lambda, *x, dr * v[t * ldv + j]);
                *x = y;
                if (e) sum = fmaf(e[t * set + r], y, sum);
            }
            if (e) out[j] = sum;
        }
    }
}
#endif

/* The AVX2 versions, called directly whatever else the CPU has (the tests compare them with the
   naive twins: the CPUs CI runs on take the AVX-512 ones, a laptop without AVX-512 these), and
   the dispatching versions' fallback. Without AVX2 + FMA they run the naive twin. */
double rnn_rows_update_avx2(long rows, long n, float *m, long ldm, const float *a, long sa,
                            const float *d, long sd, const float *v, long sv, int norm) {
#if ROWS_X86
    if (rnn_kernels_avx2()) return update_avx2(rows, n, m, ldm, a, sa, d, sd, v, sv, norm);
#endif
    return rnn_rows_update_naive(rows, n, m, ldm, a, sa, d, sd, v, sv, norm);
}

void rnn_rows_axpy_avx2(long rows, long n, float *dst, long ldd, const float *s, long ss,
                        const float *src, long lds) {
#if ROWS_X86
    if (rnn_kernels_avx2()) { axpy_avx2(rows, n, dst, ldd, s, ss, src, lds); return; }
#endif
    rnn_rows_axpy_naive(rows, n, dst, ldd, s, ss, src, lds);
}

void rnn_rows_weighted_sum_avx2(long rows, long n, float *dst, long ldd, long terms, const float *s, long st,
                                long sr, const float *src, long lt, long lds) {
#if ROWS_X86
    if (rnn_kernels_avx2()) { weighted_sum_avx2(rows, n, dst, ldd, terms, s, st, sr, src, lt, lds); return; }
#endif
    rnn_rows_weighted_sum_naive(rows, n, dst, ldd, terms, s, st, sr, src, lt, lds);
}

void rnn_rows_carry_avx2(long rows, long n, long count, const long *lanes, float *m, long ldr, long ldl,
                         const float *d, long sdt, const float *diag, float lambda, const float *v, long ldv,
                         const float *e, long set, float *g, long ldg) {
#if ROWS_X86
    if (rnn_kernels_avx2()) { carry_avx2(rows, n, count, lanes, m, ldr, ldl, d, sdt, diag, lambda, v, ldv, e, set, g, ldg); return; }
#endif
    rnn_rows_carry_naive(rows, n, count, lanes, m, ldr, ldl, d, sdt, diag, lambda, v, ldv, e, set, g, ldg);
}

/* The dispatching versions: AVX-512 where the CPU has it, else the AVX2 entry points above. */
double rnn_rows_update_f32(long rows, long n, float *m, long ldm, const float *a, long sa,
                           const float *d, long sd, const float *v, long sv, int norm) {
#if ROWS_X86
    if (n == 1 && ldm == 1 && sa == 0 && sd == 1 && sv == 0 && rnn_kernels_avx512())
        return column_avx512(rows, m, a[0], d, v[0], norm);
    if (sa == 0 && sv == 0 && n % 16 == 0 && n <= 64 && rnn_kernels_avx512())
        return outer_avx512(rows, n, m, ldm, a[0], d, sd, v, norm);
#endif
    if (n < 4) /* a bias column of strided rows: no vector work to speak of */
        return rnn_rows_update_naive(rows, n, m, ldm, a, sa, d, sd, v, sv, norm);
#if ROWS_X86
    if (rnn_kernels_avx512()) return update_avx512(rows, n, m, ldm, a, sa, d, sd, v, sv, norm);
#endif
    return rnn_rows_update_avx2(rows, n, m, ldm, a, sa, d, sd, v, sv, norm);
}

void rnn_rows_axpy_f32(long rows, long n, float *dst, long ldd, const float *s, long ss,
                       const float *src, long lds) {
#if ROWS_X86
    if (rnn_kernels_avx512()) { axpy_avx512(rows, n, dst, ldd, s, ss, src, lds); return; }
#endif
    rnn_rows_axpy_avx2(rows, n, dst, ldd, s, ss, src, lds);
}

void rnn_rows_weighted_sum_f32(long rows, long n, float *dst, long ldd, long terms, const float *s, long st,
                               long sr, const float *src, long lt, long lds) {
#if ROWS_X86
    if (rnn_kernels_avx512()) { weighted_sum_avx512(rows, n, dst, ldd, terms, s, st, sr, src, lt, lds); return; }
#endif
    rnn_rows_weighted_sum_avx2(rows, n, dst, ldd, terms, s, st, sr, src, lt, lds);
}

void rnn_rows_carry_f32(long rows, long n, long count, const long *lanes, float *m, long ldr, long ldl,
                        const float *d, long sdt, const float *diag, float lambda, const float *v, long ldv,
                        const float *e, long set, float *g, long ldg) {
#if ROWS_X86
    if (rnn_kernels_avx512() && __builtin_cpu_supports("avx512vl")) { carry_avx512(rows, n, count, lanes, m, ldr, ldl, d, sdt, diag, lambda, v, ldv, e, set, g, ldg); return; }
#endif
    rnn_rows_carry_avx2(rows, n, count, lanes, m, ldr, ldl, d, sdt, diag, lambda, v, ldv, e, set, g, ldg);
}
