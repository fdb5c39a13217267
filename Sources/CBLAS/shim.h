#ifndef RNN_EXP_CBLAS_SHIM_H
#define RNN_EXP_CBLAS_SHIM_H
#include <cblas.h>
/* OpenBLAS extension: set the number of BLAS threads of this process. */
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
char *openblas_get_config(void);
#endif
