/* team.c - the threads of one epoch: the barrier, parking, and the policy that picks the team (team.h).
 *
 * Why a hand-written barrier: an epoch is one OpenMP region whose threads meet twice per step (~1 ms apart);
 * the barrier must be cheap when both threads run and must not burn a core that another process could use when
 * one of them is descheduled. Why parking: on a busy machine, splitting a step between two threads pays only if
 * both run; otherwise thread 0 alone is faster, and the others should sleep (no CPU at all), not spin. */
#include "team.h"
#include "util.h"

#include <sched.h>

/* ------------------------------------------------------------------ the barrier
 *
 * Sense-reversing: a thread reads the phase, arrives; the last to arrive resets the count and advances the
 * phase. A waiter spins for about 20 us (the imbalance of a normal step) and then calls sched_yield between
 * checks, so that when the machine is busy the other thread's core goes to whoever can use it instead of being
 * burnt waiting. The atomics order all memory: what a thread wrote before the barrier is visible after it. */
enum { BARRIER_SPINS = 1000 };

static inline void cpu_relax(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#endif
}

void mlp_barrier_init(mlp_barrier *b) {
    atomic_init(&b->arrived, 0);
    atomic_init(&b->phase, 0);
}

void mlp_barrier_wait(mlp_barrier *b, int parts) {
    if (parts <= 1) return;
    const int phase = atomic_load_explicit(&b->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == parts - 1) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&b->phase, phase + 1, memory_order_release);
        return;
    }
    for (int i = 0; atomic_load_explicit(&b->phase, memory_order_acquire) == phase; i++) {
        if (i < BARRIER_SPINS)
            cpu_relax();
        else
            sched_yield();
    }
}

/* ------------------------------------------------------------------ the team */

int mlp_team_init(mlp_team *tm, int start, int steps, const unsigned char *schedule) {
    tm->start = start;
    tm->steps = steps;
    tm->schedule = schedule;
    tm->parts = tm->active = tm->next_active = 1;
    mlp_barrier_init(&tm->bar);
    atomic_init(&tm->gen, 0);
    atomic_init(&tm->finished, 0);
    tm->rejoin_step = 0;
    tm->rate[0] = tm->rate[1] = tm->win_wall = tm->last_time = 0;
    tm->win_steps = tm->in_mode = tm->explore_after = tm->exploring = 0;
    if (pthread_mutex_init(&tm->park_mu, NULL)) return -1;
    if (pthread_cond_init(&tm->park_cv, NULL)) {
        pthread_mutex_destroy(&tm->park_mu);
        return -1;
    }
    return 0;
}

void mlp_team_destroy(mlp_team *tm) {
    pthread_cond_destroy(&tm->park_cv);
    pthread_mutex_destroy(&tm->park_mu);
}

void mlp_team_enter(mlp_team *tm, mlp_team_seat *seat, int me, int parts) {
    if (me == 0) { /* read by the others only after the first barrier */
        tm->parts = parts;
        tm->active = tm->next_active = parts;
        atomic_store(&tm->finished, 0);
    }
    seat->me = me;
    seat->act = parts;
    seat->rejoins = 0;
}

void mlp_team_sync(mlp_team *tm, const mlp_team_seat *seat) { mlp_barrier_wait(&tm->bar, seat->act); }

int mlp_team_turn(mlp_team *tm, mlp_team_seat *seat, int s) {
    if (seat->act != 1 || seat->me == 0) return s;
    /* parked until thread 0 calls the team back after some step, or finishes the epoch */
    pthread_mutex_lock(&tm->park_mu);
    while (atomic_load(&tm->gen) == seat->rejoins && !atomic_load(&tm->finished))
        pthread_cond_wait(&tm->park_cv, &tm->park_mu);
    pthread_mutex_unlock(&tm->park_mu);
    if (atomic_load(&tm->gen) == seat->rejoins) return -1; /* finished */
    seat->rejoins++;
    seat->act = tm->parts;
    mlp_barrier_wait(&tm->bar, tm->parts); /* the team re-forms: thread 0 waits here too */
    return tm->rejoin_step + 1;
}

void mlp_team_adopt(mlp_team *tm, mlp_team_seat *seat, int s) {
    if (tm->next_active == seat->act) return;
    if (tm->next_active == 1) { /* shrink: all finish this step together, then the others park */
        mlp_barrier_wait(&tm->bar, seat->act);
        seat->act = 1;
    } else { /* grow: wake the parked threads, who join this barrier */
        pthread_mutex_lock(&tm->park_mu);
        tm->rejoin_step = s;
        atomic_fetch_add(&tm->gen, 1);
        pthread_cond_broadcast(&tm->park_cv);
        pthread_mutex_unlock(&tm->park_mu);
        seat->rejoins++;
        mlp_barrier_wait(&tm->bar, tm->parts);
        seat->act = tm->parts;
    }
    if (seat->me == 0) tm->active = seat->act;
}

void mlp_team_finish(mlp_team *tm) {
    pthread_mutex_lock(&tm->park_mu);
    atomic_store(&tm->finished, 1);
    pthread_cond_broadcast(&tm->park_cv);
    pthread_mutex_unlock(&tm->park_mu);
}

/* ------------------------------------------------------------------ the policy
 *
 * Graceful degradation on a busy machine. When another process shares one of the cores, the OS deschedules one
 * of our threads for whole time slices (milliseconds) and the other waits at every barrier. So the team has two
 * modes, all threads or thread 0 alone (the others sleep: their core goes to the other process and thread 0
 * keeps its own), and thread 0 measures the wall time per step of each over windows of TEAM_WINDOW steps: after
 * the first window it tries the other mode for one window, keeps the faster, and tries again every
 * explore_after steps (64, doubling up to 1024 while the other mode keeps losing). Called between a step's two
 * barriers, for step s; what it decides takes effect at step s + 1. */
enum { TEAM_WINDOW = 16 };

void mlp_team_policy(mlp_team *tm, int s) {
    const int parts = tm->parts;
    if (parts <= 1) return;
    if (tm->schedule) { /* the schedule: schedule[s + 1] != 0 means the full team for step s + 1 */
        if (s + 1 < tm->steps) tm->next_active = tm->schedule[s + 1] ? parts : 1;
        return;
    }
    const double tnow = mlp_now_seconds();
    if (s == tm->start) {
        tm->last_time = tnow;
        tm->explore_after = TEAM_WINDOW;
        return;
    }
    const double wall = tnow - tm->last_time;
    tm->last_time = tnow;
    if (tm->next_active != tm->active) return; /* a switch is pending: this step ran in the old mode */
    const int mode = tm->active > 1;
    tm->win_wall += wall;
    tm->in_mode++;
    if (++tm->win_steps < TEAM_WINDOW) return;
    tm->rate[mode] = tm->win_wall / TEAM_WINDOW;
    tm->win_steps = 0;
    tm->win_wall = 0;
    if (tm->exploring) { /* back unless the mode just tried beat the one before */
        tm->exploring = 0;
        if (tm->rate[mode] > tm->rate[!mode]) {
            tm->next_active = mode ? 1 : parts;
            if (tm->explore_after < 1024) tm->explore_after *= 2;
        } else {
            tm->explore_after = 4 * TEAM_WINDOW;
        }
        tm->in_mode = 0;
    } else if (tm->in_mode >= tm->explore_after) {
        tm->exploring = 1;
        tm->next_active = mode ? 1 : parts;
        tm->in_mode = 0;
    }
}
