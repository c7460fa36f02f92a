/* mpi_util.c - see mpi_util.h. With -DMLP_MPI (make MPI=1) the real thing; without it, stubs for one process.
 * The state below is the tool's (like `prog`), not the library's: one MPI job per process. */
#include "mpi_util.h"

#include "cli.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef MLP_MPI
#include <mpi.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

extern char **environ;

/* Variables by which MPI launchers tell a process it is one of a job's ranks: Open MPI (mpirun), PMIx
 * (Open MPI 4+, Slurm srun --mpi=pmix), PMI/PMI2 (MPICH and Intel MPI's Hydra, srun --mpi=pmi2). */
static const char *const rank_vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
/* prefixes of every variable a child must not inherit, so that it does not try to join the job */
static const char *const launcher_prefixes[] = {"OMPI_", "PMIX_", "PMI_"};

static int env_int(const char *const *names, int n, int fallback) {
    for (int i = 0; i < n; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) return atoi(v);
    }
    return fallback;
}

int mpiu_launched(void) {
    for (int i = 0; i < 3; i++)
        if (getenv(rank_vars[i])) return 1;
    return getenv("PMI_SIZE") != NULL;
}

int mpiu_env_rank(void) { return mpiu_launched() ? env_int(rank_vars, 3, 0) : 0; }

/* ------------------------------------------------------------------ silence, child environment */

static int saved_out = -1, saved_err = -1;

void mpiu_silence(int on) {
    fflush(stdout);
    fflush(stderr);
    if (on && saved_out < 0) {
        int nul = open("/dev/null", O_WRONLY);
        if (nul < 0) return;
        saved_out = dup(STDOUT_FILENO);
        saved_err = dup(STDERR_FILENO);
        dup2(nul, STDOUT_FILENO);
        dup2(nul, STDERR_FILENO);
        close(nul);
    } else if (!on && saved_out >= 0) {
        dup2(saved_out, STDOUT_FILENO);
        dup2(saved_err, STDERR_FILENO);
        close(saved_out);
        close(saved_err);
        saved_out = saved_err = -1;
    }
}

static char **child_env;

char **mpiu_child_env(void) {
    if (!mpiu_active()) return NULL;
    if (child_env) return child_env;
    size_t n = 0;
    while (environ[n]) n++;
    child_env = calloc(n + 1, sizeof *child_env);
    if (!child_env) die("out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int drop = 0;
        for (size_t p = 0; p < sizeof launcher_prefixes / sizeof *launcher_prefixes; p++)
            drop |= !strncmp(environ[i], launcher_prefixes[p], strlen(launcher_prefixes[p]));
        if (!drop) child_env[k++] = environ[i];
    }
    child_env[k] = NULL;
    return child_env;
}

void mpiu_cloexec_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        for (int fd = 3; fd < 1024; fd++) {
            int fl = fcntl(fd, F_GETFD);
            if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
        }
        return;
    }
    const int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (fd <= 2 || fd == self) continue;
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
    closedir(d);
}

int mpiu_cpus(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
#ifdef _OPENMP
    long mask = omp_get_num_procs(); /* the CPUs of the affinity mask at start-up */
#else
    long mask = online;
#endif
    long share = online / mpiu_local_size();
    long n = mask < share ? mask : share;
    return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

size_t mpiu_allreduce_scratch(size_t n) {
    size_t p = (size_t)mpiu_size();
    return (n / p + 1) * p; /* P copies of the largest block */
}

#ifdef MLP_MPI
/* ================================================================== MPI */

static int active, rank, size = 1, local_size = 1;
static double comm_seconds;

int mpiu_init(void) {
    if (active || !mpiu_launched()) return size;
    int provided;
    /* the tool's threads (OpenMP) never call MPI: MPI_THREAD_FUNNELED */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) die("MPI_Init failed");
    active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size);
    MPI_Comm_free(&node);
    return size;
}

int mpiu_active(void) { return active; }
int mpiu_rank(void) { return rank; }
int mpiu_size(void) { return size; }
int mpiu_local_size(void) { return local_size; }

void mpiu_finalize(void) {
    if (!active) return;
    fflush(stdout);
    fflush(stderr);
    MPI_Finalize();
    active = 0;
}

void mpiu_abort(int code) {
    fflush(stdout);
    fflush(stderr);
    if (active) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

void mpiu_send(int dest, int tag, const void *buf, int bytes) {
    MPI_Send(buf, bytes, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
}

int mpiu_poll(int *src, int *tag, void *buf, int cap) {
    int flag = 0, bytes = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (!flag) return -1;
    MPI_Get_count(&st, MPI_BYTE, &bytes);
    if (bytes > cap) {
        fprintf(stderr, "%s: internal error: a message of %d bytes from rank %d (tag %d) exceeds %d\n", prog,
                bytes, st.MPI_SOURCE, st.MPI_TAG, cap);
        mpiu_abort(1);
    }
    MPI_Recv(buf, cap, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    *src = st.MPI_SOURCE;
    *tag = st.MPI_TAG;
    return bytes;
}

void mpiu_bcast(void *buf, int bytes, int root) {
    if (active) MPI_Bcast(buf, bytes, MPI_BYTE, root, MPI_COMM_WORLD);
}

void mpiu_gather_int(int value, int *all) {
    if (!active) {
        all[0] = value;
        return;
    }
    MPI_Gather(&value, 1, MPI_INT, all, 1, MPI_INT, 0, MPI_COMM_WORLD);
}

int mpiu_max_int(int value) {
    int m = value;
    if (active) MPI_Allreduce(&value, &m, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return m;
}

/* Block j of n floats cut into P: [off(j), off(j+1)), sizes differing by at most one. */
static size_t block_off(size_t n, int p, int j) { return n / (size_t)p * (size_t)j + ((size_t)j < n % (size_t)p ? (size_t)j : n % (size_t)p); }

void mpiu_allreduce_sum_fixed(float *buf, size_t n, float *scratch) {
    if (!active || size == 1) return;
    const double t0 = MPI_Wtime();
    /* counts and displacements in elements: at most 2 x 4 ints per rank; on the stack for small P */
    int stack[4 * 64], *cnt = stack;
    if (size > 64) {
        cnt = malloc(sizeof *cnt * 4 * (size_t)size);
        if (!cnt) die("out of memory");
    }
    int *off = cnt + size, *rcnt = off + size, *roff = rcnt + size;
    const size_t mine = block_off(n, size, rank + 1) - block_off(n, size, rank);
    for (int j = 0; j < size; j++) {
        cnt[j] = (int)(block_off(n, size, j + 1) - block_off(n, size, j));
        off[j] = (int)block_off(n, size, j);
        rcnt[j] = (int)mine;       /* every rank sends me its copy of my block */
        roff[j] = (int)mine * j;   /* rank j's copy at scratch[j * mine] */
    }
    /* 1. every rank's copy of block j goes to rank j */
    MPI_Alltoallv(buf, cnt, off, MPI_FLOAT, scratch, rcnt, roff, MPI_FLOAT, MPI_COMM_WORLD);
    /* 2. my block: the P copies summed in rank order, one sequential chain per element */
    float *dst = buf + off[rank];
    for (size_t k = 0; k < mine; k++) {
        float s = scratch[k];
        for (int j = 1; j < size; j++) s += scratch[(size_t)j * mine + k];
        dst[k] = s;
    }
    /* 3. everyone gets every summed block */
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, off, MPI_FLOAT, MPI_COMM_WORLD);
    if (cnt != stack) free(cnt);
    comm_seconds += MPI_Wtime() - t0;
}

void mpiu_allreduce_sum_fixed_d(double *v, int n) {
    if (!active || size == 1) return;
    if (n > 16) mpiu_abort(1);
    const double t0 = MPI_Wtime();
    double stack[16 * 64], *all = stack;
    if (size > 64) {
        all = malloc(sizeof *all * 16 * (size_t)size);
        if (!all) die("out of memory");
    }
    MPI_Allgather(v, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
    for (int i = 0; i < n; i++) {
        double s = all[i];
        for (int j = 1; j < size; j++) s += all[(size_t)j * (size_t)n + (size_t)i];
        v[i] = s;
    }
    if (all != stack) free(all);
    comm_seconds += MPI_Wtime() - t0;
}

double mpiu_comm_seconds(void) { return comm_seconds; }

#else
/* ================================================================== one process, no MPI */

static const char *const size_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};

int mpiu_init(void) {
    int n = env_int(size_vars, 2, 1);
    if (mpiu_launched() && n > 1)
        die("this mlp was built without MPI, so each of the %d ranks would do the whole job; build it with "
            "`make MPI=1` and run build-mpi/mlp under mpirun", n);
    return 1;
}
int mpiu_active(void) { return 0; }
int mpiu_rank(void) { return 0; }
int mpiu_size(void) { return 1; }
int mpiu_local_size(void) { return 1; }
void mpiu_finalize(void) {}
void mpiu_abort(int code) {
    fflush(stdout);
    fflush(stderr);
    exit(code);
}
void mpiu_send(int dest, int tag, const void *buf, int bytes) {
    (void)dest, (void)tag, (void)buf, (void)bytes;
    die("internal error: an MPI message in a build without MPI");
}
int mpiu_poll(int *src, int *tag, void *buf, int cap) {
    (void)src, (void)tag, (void)buf, (void)cap;
    return -1;
}
void mpiu_bcast(void *buf, int bytes, int root) { (void)buf, (void)bytes, (void)root; }
void mpiu_gather_int(int value, int *all) { all[0] = value; }
int mpiu_max_int(int value) { return value; }
void mpiu_allreduce_sum_fixed(float *buf, size_t n, float *scratch) { (void)buf, (void)n, (void)scratch; }
void mpiu_allreduce_sum_fixed_d(double *v, int n) { (void)v, (void)n; }
double mpiu_comm_seconds(void) { return 0; }
#endif
