#pragma once
/// @file
/// The BLACS, PBLAS and ScaLAPACK routines tangent::distributed calls, declared here because
/// Debian's ScaLAPACK (libscalapack-openmpi-dev) installs no C header. Fortran conventions:
/// every argument by pointer, integers are `int` (32 bits, as Debian builds it), indices 1-based;
/// the routines written in Fortran take, after their arguments, the length of each character
/// argument by value (gfortran's hidden arguments, `std::size_t` since gfortran 8), which
/// tangent passes (1) rather than leave to chance. BLACS and PBLAS are C.

#include <cstddef>
#include <mpi.h>

extern "C" {
// BLACS (C interface).
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int* context, const char* order, int rows, int cols);
void Cblacs_gridinfo(int context, int* rows, int* cols, int* row, int* col);
void Cblacs_gridexit(int context);

// ScaLAPACK tools.
int numroc_(const int* n, const int* block, const int* coordinate, const int* source,
            const int* processes);
void descinit_(int* descriptor, const int* rows, const int* cols, const int* row_block,
               const int* col_block, const int* row_source, const int* col_source,
               const int* context, const int* leading_dimension, int* info);

// Factorisations (double; Fortran).
void pdpotrf_(const char* uplo, const int* n, double* a, const int* ia, const int* ja,
              const int* desca, int* info, std::size_t uplo_length);
void pdpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* ia,
              const int* ja, const int* desca, double* b, const int* ib, const int* jb,
              const int* descb, int* info, std::size_t uplo_length);
double pdlansy_(const char* norm, const char* uplo, const int* n, const double* a, const int* ia,
                const int* ja, const int* desca, double* work, std::size_t norm_length,
                std::size_t uplo_length);
void pdpocon_(const char* uplo, const int* n, const double* a, const int* ia, const int* ja,
              const int* desca, const double* anorm, double* rcond, double* work, const int* lwork,
              int* iwork, const int* liwork, int* info, std::size_t uplo_length);
void pdsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* ia,
              const int* ja, const int* desca, double* w, double* z, const int* iz, const int* jz,
              const int* descz, double* work, const int* lwork, int* iwork, const int* liwork,
              int* info, std::size_t jobz_length, std::size_t uplo_length);

// Redistribution (C): B ← A between two layouts (here: two block sizes on one grid); `context`
// spans every process of both.
void pdgemr2d_(const int* m, const int* n, const double* a, const int* ia, const int* ja,
               const int* desca, double* b, const int* ib, const int* jb, const int* descb,
               const int* context);

// PBLAS (C): C ← β·C + α·op(A)·op(B) (pdgemm), C ← β·C + α·A·B with A symmetric, one triangle
// read (pdsymm, A on the left for side "L"), and C ← β·C + α·Aᵀ in double and in float (p?tran).
void pdgemm_(const char* trans_a, const char* trans_b, const int* m, const int* n, const int* k,
             const double* alpha, const double* a, const int* ia, const int* ja, const int* desca,
             const double* b, const int* ib, const int* jb, const int* descb, const double* beta,
             double* c, const int* ic, const int* jc, const int* descc);
void pdsymm_(const char* side, const char* uplo, const int* m, const int* n, const double* alpha,
             const double* a, const int* ia, const int* ja, const int* desca, const double* b,
             const int* ib, const int* jb, const int* descb, const double* beta, double* c,
             const int* ic, const int* jc, const int* descc);
void pdtran_(const int* m, const int* n, const double* alpha, const double* a, const int* ia,
             const int* ja, const int* desca, const double* beta, double* c, const int* ic,
             const int* jc, const int* descc);
void pstran_(const int* m, const int* n, const float* alpha, const float* a, const int* ia,
             const int* ja, const int* desca, const float* beta, float* c, const int* ic,
             const int* jc, const int* descc);
}
