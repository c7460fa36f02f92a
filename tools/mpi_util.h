/* mpi_util.h - the tool's thin layer over MPI, for `mpirun -np P mlp sweep` and `mpirun -np P mlp train`
 * (docs/MPI.md). Built with MPI only by `make MPI=1` (mpicc, -DMLP_MPI, build-mpi/); in the default build every
 * function here is a stub for a single process (rank 0 of 1), so the commands need no #ifdef and the default
 * build needs no MPI headers or library. The library (src/) knows nothing of MPI.
 *
 * MPI is initialised only when an MPI launcher started the process (mpirun/mpiexec/srun set OMPI_*, PMIX_* or
 * PMI_* variables); a plain `mlp sweep` or `mlp train` of the MPI build runs without it, exactly like the
 * default build. Messages are raw bytes (MPI_BYTE): every rank must run the same build on the same kind of
 * machine (byte order, struct layout), as mpirun of one binary gives. */
#ifndef MLP_MPI_UTIL_H
#define MLP_MPI_UTIL_H

#include <stddef.h>

/* 1 when the environment says an MPI launcher started this process. */
int mpiu_launched(void);
/* This process's rank as the launcher's environment gives it, before or without MPI_Init (0 if none). */
int mpiu_env_rank(void);
/* Initialise MPI if launched by an MPI launcher (once; later calls do nothing); returns the number of ranks.
 * The default build refuses (exit 1, with a message) to run as one of several ranks: each would do the
 * whole job. */
int mpiu_init(void);
int mpiu_active(void); /* MPI is initialised */
int mpiu_rank(void);   /* 0 when not active */
int mpiu_size(void);   /* 1 when not active */
int mpiu_local_size(void); /* ranks on this host (they share its CPUs); 1 when not active */
/* The CPUs this process should use: those of its affinity mask (mpirun binds each rank to a core, or a socket,
 * by default; taskset too), and no more than its share of the host's online CPUs among the ranks on this
 * host. Without MPI: the CPUs of the affinity mask. */
int mpiu_cpus(void);
/* End MPI normally (every rank must call it). Not for error paths: a rank that exits without it makes the
 * launcher stop the whole job, which is what an error should do. */
void mpiu_finalize(void);

/* Silence stdout and stderr (on = 1) or restore them (on = 0): ranks > 0 parse the command line silently,
 * so that a usage error or --help is printed once, by rank 0. */
void mpiu_silence(int on);

/* The environment for a child process that must not join this MPI job (a sweep's `mlp train`): a copy of
 * environ without the launcher's variables, built once; NULL when MPI is not active (environ unchanged). */
char **mpiu_child_env(void);

/* Mark every open file descriptor above 2 close-on-exec (MPI's sockets and shared-memory files among them),
 * so that a child started with fork + exec keeps none of them: call it just before fork. */
void mpiu_cloexec_fds(void);

/* Point-to-point messages of raw bytes on MPI_COMM_WORLD. mpiu_poll receives one pending message if there is
 * one (from any rank, any tag): returns its size in bytes and sets *src and *tag, or -1 when none waits;
 * a message larger than cap is a program error (abort). */
void mpiu_send(int dest, int tag, const void *buf, int bytes);
int mpiu_poll(int *src, int *tag, void *buf, int cap);

/* Collectives on MPI_COMM_WORLD (no-ops, or a copy, for one process). */
void mpiu_bcast(void *buf, int bytes, int root);
void mpiu_gather_int(int value, int *all); /* all[size] at rank 0 (may be NULL elsewhere) */
int mpiu_max_int(int value);               /* the largest value over all ranks */

/* Sum n floats over all ranks into buf, on every rank, in a FIXED order: element k of the result is
 * ((x_0[k] + x_1[k]) + x_2[k]) + ... + x_{P-1}[k], x_r being rank r's buf, whatever algorithm the MPI library
 * would pick for MPI_Allreduce (its order may depend on the message size, P and the process placement). So
 * the sum is bitwise the same run after run for a given P, and for P = 1 it is buf itself, untouched.
 * How: buf is cut into P blocks; rank j owns block j. MPI_Alltoallv sends every rank's copy of block j to
 * rank j, which sums the P copies in rank order; MPI_Allgatherv then gives everyone every summed block. Each
 * rank sends and receives 2 n (P-1)/P floats, as much as a bandwidth-optimal (ring) allreduce.
 * scratch: mpiu_allreduce_scratch(n) floats, allocated by the caller once (not per call). */
size_t mpiu_allreduce_scratch(size_t n);
void mpiu_allreduce_sum_fixed(float *buf, size_t n, float *scratch);
/* The same for a few doubles (metrics), by MPI_Allgather and a sum in rank order; n <= 16. */
void mpiu_allreduce_sum_fixed_d(double *v, int n);

/* Seconds spent inside MPI communication calls of this process so far (sweep messages excluded). */
double mpiu_comm_seconds(void);
void mpiu_abort(int code);

#endif
