#ifndef RNN_KERNELS_H
#define RNN_KERNELS_H
/* Float32 kernels of rnn-exp's hot loops, with AVX2+FMA / AVX-512 versions chosen at run time where
   the CPU has them (function-level target attributes: the library itself runs on any x86-64 CPU).
   The CPU features are read once, race-free (pthread_once), whichever thread asks first. */

#include "rnn_flag.h"

/* 1 when the AVX2+FMA versions are in use. */
int rnn_kernels_avx2(void);

/* p[i] = tanh(p[i]) for i < n (Cephes polynomials; absolute error < 3e-7). */
void rnn_tanh_f32(float *p, long n);

/* p[i] = 1 / (1 + exp(-p[i])) (from exp(-|p[i]|); absolute error < 3e-7): the gates of LSTM and
   GRU layers. */
void rnn_sigmoid_f32(float *p, long n);

/* p[i] = exp(p[i] - shift); returns the sum of the results. */
float rnn_exp_shift_sum_f32(float *p, long n, float shift);

/* C[m x n] += A[m x k] . B[k x n], all row-major with leading dimensions lda, ldb, ldc: the
   step-by-step recurrence products of small layers, where a BLAS call costs more than the work. */
void rnn_sgemm_nn_acc(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                      float *c, long ldc);

/* 1 when the AVX-512 packed recurrence kernel is in use (else its portable twin runs). */
int rnn_kernels_avx512(void);

/* ---- packed recurrence product ----
   B (k x n) packed once into panels of RNN_PACK_NR columns (zero-padded), then each step's
   C (m x n, ldc) += A (m x k, lda) . B runs on the panels, with an optional fused epilogue:
     RNN_EPI_NONE   C = C + A.B
     RNN_EPI_TANH   C = tanh(C + A.B)                  (the forward step of a tanh layer)
     RNN_EPI_DTANH  C = (C + A.B) * (1 - H*H), H (m x n, ldh)   (the backward step)      */
#define RNN_PACK_NR 32
#define RNN_EPI_NONE 0
#define RNN_EPI_TANH 1
#define RNN_EPI_DTANH 2

/* Floats the packed form of a k x n matrix takes. */
long rnn_pack_size(long k, long n);

/* Packs B with B(q, j) = b[q * rs + j * cs] (rs = n, cs = 1: row-major B; rs = 1, cs = k: B is
   the transpose of a row-major n x k matrix). */
void rnn_pack_b(long k, long n, const float *b, long rs, long cs, float *packed);
/* Its naive twin (element by element; rnn_pack_b transposes 16 x 16 tiles in AVX-512 registers
   where rs = 1 and the CPU has it): the same panels, bit for bit. */
void rnn_pack_b_naive(long k, long n, const float *b, long rs, long cs, float *packed);

/* The product on packed panels: AVX-512 where the CPU has it, else the naive twin. */
void rnn_sgemm_packed(long m, long n, long k, const float *a, long lda, const float *packed,
                      float *c, long ldc, int epi, const float *h, long ldh);

/* The naive twin (triple loop, same packed input, same epilogue): the reference for tests. */
void rnn_sgemm_packed_naive(long m, long n, long k, const float *a, long lda, const float *packed,
                            float *c, long ldc, int epi, const float *h, long ldh);
/* ---- LSTM cell, one step of B rows (PyTorch's nn.LSTM gate order i, f, g, o) ----
   Row r of `gates` (stride aw >= 6u) holds on entry the pre-activations [i f g o] (4u columns);
   forward leaves there [σ(i) σ(f) tanh(g) σ(o)], then c = σ(f)⊙c_prev + σ(i)⊙tanh(g) in
   columns 4u ..< 5u, tanh(c) in 5u ..< 6u, and writes h = σ(o)⊙tanh(c) (stride ldh).
   c_prev of row r: c_prev + r * aw (the cell columns of the previous step's rows).
   Backward, from those stored values: dh = delta[0 ..< u] + dh_next (delta's first u columns
   hold the error E arriving from above), dc = dc_next + dh⊙σ(o)⊙(1 - tanh²(c)), then delta
   (stride dw) gets the gate-pre-activation gradients [d_i d_f d_g d_o] and dc_next = dc⊙σ(f).
   dh_next and dc_next: (B x u), stride u. AVX-512 where the CPU has it, else the naive twin.
   Folded bias work (NULL: none): forward `bias` (4u) is added to each row's pre-activations
   before the nonlinearities, pre = (SW·x + TW·h) + b, so the rows need not be filled with it
   first; backward `dbias` (4u) accumulates the column sums of the gate deltas it writes,
   dbias[k·u + j] += delta_k[r][j] row by row (the bias gradients while the deltas are in registers). */
void rnn_lstm_forward_f32(long b, long u, float *gates, long aw, const float *c_prev, float *h, long ldh,
                          const float *bias);
void rnn_lstm_backward_f32(long b, long u, const float *gates, long aw, const float *c_prev,
                           float *delta, long dw, const float *dh_next, float *dc_next, float *dbias);
/* The naive twins (scalar loops, the portable tanh/sigmoid): the reference for tests. */
void rnn_lstm_forward_naive(long b, long u, float *gates, long aw, const float *c_prev, float *h, long ldh,
                            const float *bias);
void rnn_lstm_backward_naive(long b, long u, const float *gates, long aw, const float *c_prev,
                             float *delta, long dw, const float *dh_next, float *dc_next, float *dbias);
/* ---- GRU cell, one step of B rows (PyTorch's nn.GRU gate order r, z, n) ----
   Row r of `gates` (stride aw >= 4u) holds on entry SW·x + b_s (+ b_t on r and z) in columns
   0 ..< 3u, and `s` (stride lds) holds TW·h_prev without bias. Forward leaves [r z n (TW_n·h + b_tn)]
   in columns 0 ..< 4u, with r, z = σ(pre + s), n = tanh(pre_n + r ⊙ (s_n + b_tn)), and writes
   h = (1 − z) ⊙ n + z ⊙ h_prev (h_prev, h: stride ldh). Backward: dh = delta[0 ..< u] + dh_next,
   delta gets [d_r d_z d_{n,h} d_{n,x}] and dh_next = dh ⊙ z (the recurrent product adds the rest). */
void rnn_gru_forward_f32(long b, long u, float *gates, long aw, const float *s, long lds, const float *bt_n,
                         const float *h_prev, float *h, long ldh);
void rnn_gru_backward_f32(long b, long u, const float *gates, long aw, const float *h_prev, long ldh,
                          float *delta, long dw, float *dh_next);
void rnn_gru_forward_naive(long b, long u, float *gates, long aw, const float *s, long lds, const float *bt_n,
                           const float *h_prev, float *h, long ldh);
void rnn_gru_backward_naive(long b, long u, const float *gates, long aw, const float *h_prev, long ldh,
                            float *delta, long dw, float *dh_next);
/* sums[j] += x[0][j] + x[1][j] + ... + x[rows-1][j] for j < cols (x: stride ldx), summed in row
   order from zero in float32 and then added: the bias gradients of a window's rows. AVX-512 where
   the CPU has it, else the naive twin (the same order, so the same result). */
void rnn_column_sums_f32(long rows, long cols, const float *x, long ldx, float *sums);
void rnn_column_sums_naive(long rows, long cols, const float *x, long ldx, float *sums);
/* The sum of x[i]² for i < n in float64 (the gradient norm): AVX-512 where the CPU has it, else the
   naive twin; both sum in partial sums whose order differs, so they agree to rounding, not bits. */
double rnn_sum_squares_f32(const float *x, long n);
double rnn_sum_squares_naive(const float *x, long n);
/* ---- the project's own packed GEMM (gemm_avx512.c) ----
   Row-major C (m x n, ldc) = alpha . op(A) . op(B) + beta . C; op(A) is A (m x k, lda) or, with
   transA, the transpose of A (k x m, lda); op(B) likewise (k x n or n x k, ldb). Only the m x n
   entries of C are read or written; beta = 0 never reads C. BLIS-style packing, a 12 x 32
   AVX-512 register block. */

/* 1 when the CPU has AVX-512F+BW+VL (read once, race-free). */
int rnn_gemm_avx512(void);
/* RNN_EXP_GEMM, read once: 0 auto (by shape), 1 `own` (always where the CPU allows), 2 `blas`. */
int rnn_gemm_mode(void);
/* 1 when the own kernel should run this shape (the CPU has it, RNN_EXP_GEMM allows it, and the
   shape is one where it was measured to win over the system BLAS); else the caller uses BLAS. */
int rnn_sgemm_own_wins(int transA, int transB, long m, long n, long k);
/* The product through the packed AVX-512 kernel (the naive twin where the CPU lacks it). */
void rnn_sgemm_own(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc);
/* Two products with the same op(A), C1 = alpha . op(A) . op(B1) + beta . C1 (m x n1) and
   C2 = alpha . op(A) . op(B2) + beta . C2 (m x n2), in one pass: each A block is packed once and
   runs against the panels of both B blocks (the weight gradients ΔTW += Deltaᵀ·H and
   ΔSW += Deltaᵀ·X of a window share Delta). Bit for bit two rnn_sgemm_own calls (which it makes
   itself where the two do not fit one block, or without AVX-512); its twin is two naive calls. */
void rnn_sgemm_own_pair(int transA, int transB, long m, long k, float alpha, const float *a, long lda,
                        long n1, const float *b1, long ldb1, float *c1, long ldc1,
                        long n2, const float *b2, long ldb2, float *c2, long ldc2, float beta);
/* The naive twin: a triple loop summing in depth order, the reference for tests. */
void rnn_sgemm_naive(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc);

/* ---- row kernels of the online algorithms (online_rows.c) ----
   rnn_rows_update: for r < rows, j < n:
       m[r*ldm + j] = a[r*sa] * m[r*ldm + j] + d[r*sd] * v[r*sv + j]
   (a stride of 0 repeats one scalar or one vector for every row); returns the sum of the squares
   of the new m when `norm` is nonzero (summed in float32), else 0.
   rnn_rows_axpy: dst[r*ldd + j] += s[r*ss] * src[r*lds + j].
   The _naive versions are the portable twins (used where the CPU has neither AVX2 nor AVX-512);
   the vector versions round a*m + d*v with one fused multiply-add and sum the squares in another
   order. */
double rnn_rows_update_f32(long rows, long n, float *m, long ldm, const float *a, long sa,
                           const float *d, long sd, const float *v, long sv, int norm);
double rnn_rows_update_naive(long rows, long n, float *m, long ldm, const float *a, long sa,
                             const float *d, long sd, const float *v, long sv, int norm);
void rnn_rows_axpy_f32(long rows, long n, float *dst, long ldd, const float *s, long ss,
                       const float *src, long lds);
void rnn_rows_axpy_naive(long rows, long n, float *dst, long ldd, const float *s, long ss,
                         const float *src, long lds);
/* rnn_rows_weighted_sum: for r < rows, j < n:
       dst[r*ldd + j] += Σ_{t < terms} s[t*st + r*sr] * src[t*lt + r*lds + j]
   (e.g. a gradient block summed over lanes: t the lane, s its errors, src its influence rows);
   the block is read once and every dst row written once. */
void rnn_rows_weighted_sum_f32(long rows, long n, float *dst, long ldd, long terms, const float *s, long st,
                               long sr, const float *src, long lt, long lds);
void rnn_rows_weighted_sum_naive(long rows, long n, float *dst, long ldd, long terms, const float *s, long st,
                                 long sr, const float *src, long lt, long lds);
/* rnn_rows_carry: an rnn layer's SnAp-1 / RFLO influence rows one step on, for each listed lane
   t = lanes[q], q < count, and optionally the gradient summed over those lanes:
       for r < rows, j < n:
         m[r*ldr + t*ldl + j] = a * m[r*ldr + t*ldl + j] + d[t*sdt + r] * v[t*ldv + j],
         a = d[t*sdt + r] * diag[r] (diag given: SnAp-1, a = sigma'(z_r) TW[r, r]) or lambda (diag NULL: RFLO);
       then, when e is not NULL, g[r*ldg + j] = Σ_t e[t*set + r] * (the new m[r*ldr + t*ldl + j])
   (g overwritten). Each row of the block is read and written once; the lanes' copies of a row are
   best adjacent (ldl = n rounded up), which the rows' traversal order assumes. */
void rnn_rows_carry_f32(long rows, long n, long count, const long *lanes, float *m, long ldr, long ldl,
                        const float *d, long sdt, const float *diag, float lambda, const float *v, long ldv,
                        const float *e, long set, float *g, long ldg);
void rnn_rows_carry_naive(long rows, long n, long count, const long *lanes, float *m, long ldr, long ldl,
                          const float *d, long sdt, const float *diag, float lambda, const float *v, long ldv,
                          const float *e, long set, float *g, long ldg);
/* rnn_transpose: dst[c*ldd + r] = src[r*lds + c] for r < rows, c < cols (16 x 16 tiles
   transposed in AVX-512 registers where the CPU has it; the naive twin element by element; the
   same values either way). */
void rnn_transpose_f32(long rows, long cols, const float *src, long lds, float *dst, long ldd);
void rnn_transpose_naive(long rows, long cols, const float *src, long lds, float *dst, long ldd);
/* The AVX2 versions of the row kernels above, called directly whatever else the CPU has (the
   naive twins without AVX2 + FMA): for the tests, since the dispatching versions take AVX-512
   where it exists. */
double rnn_rows_update_avx2(long rows, long n, float *m, long ldm, const float *a, long sa,
                            const float *d, long sd, const float *v, long sv, int norm);
void rnn_rows_axpy_avx2(long rows, long n, float *dst, long ldd, const float *s, long ss,
                        const float *src, long lds);
void rnn_rows_weighted_sum_avx2(long rows, long n, float *dst, long ldd, long terms, const float *s, long st,
                                long sr, const float *src, long lt, long lds);
void rnn_rows_carry_avx2(long rows, long n, long count, const long *lanes, float *m, long ldr, long ldl,
                         const float *d, long sdt, const float *diag, float lambda, const float *v, long ldv,
                         const float *e, long set, float *g, long ldg);
#endif
