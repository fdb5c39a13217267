#ifndef RNN_KERNELS_H
#define RNN_KERNELS_H
/* Float32 kernels of rnn-exp's hot loops, with an AVX2+FMA version chosen at run time where the
   CPU has it (function-level target attributes: the library itself runs on any x86-64 CPU). */

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
#endif
