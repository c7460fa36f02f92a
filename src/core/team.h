/* team.h - the threads of one epoch (team.c): a spinning barrier, and a team that shrinks to thread 0 while the
 * machine is busy and grows back when it is not. Nothing here touches the numbers: every element of a step is
 * the same chain whichever thread computes it, so the team only moves time. Internal: not installed. */
#ifndef MLP_TEAM_H
#define MLP_TEAM_H

#include <pthread.h>
#include <stdatomic.h>

/* Sense-reversing barrier for `parts` threads (spins ~20 us, then yields the core). */
typedef struct mlp_barrier {
    atomic_int arrived;
    atomic_int phase;
} mlp_barrier;

void mlp_barrier_init(mlp_barrier *b);
/* All memory written before the barrier by any of the parts threads is visible after it. parts <= 1: no-op. */
void mlp_barrier_wait(mlp_barrier *b, int parts);

/* The working team of an epoch's parallel region: all `parts` threads, or thread 0 alone while the others sleep
 * ("parked"). Thread 0 decides (mlp_team_policy, or a fixed schedule for the tests) between a step's two
 * barriers; every thread adopts the decision after the step (mlp_team_adopt), so all working threads agree on
 * the team size at every point of the loop and barriers count only them. */
typedef struct mlp_team {
    int start, steps;              /* the epoch's steps [start, steps) */
    const unsigned char *schedule; /* schedule[s] != 0: the full team for step s (tests), or NULL: the policy */
    int parts;                     /* threads in the region (set by thread 0 in mlp_team_enter) */
    int active, next_active;       /* the team size now and after the current step (1 or parts) */
    mlp_barrier bar;
    /* parking: parked threads sleep on park_cv until thread 0 calls them back (gen changes) after step
     * rejoin_step, or the epoch ends (finished) */
    pthread_mutex_t park_mu;
    pthread_cond_t park_cv;
    atomic_int gen;
    int rejoin_step;
    atomic_int finished;
    /* thread 0's timing for the policy: seconds per step, rate[0] thread 0 alone, rate[1] all */
    double rate[2], win_wall, last_time;
    int win_steps, in_mode, explore_after, exploring;
} mlp_team;

/* One thread's place in the team. */
typedef struct mlp_team_seat {
    int me;      /* thread number, 0 .. parts-1 */
    int act;     /* the working team's size as this thread knows it */
    int rejoins; /* team re-formations this thread took part in (follows mlp_team.gen) */
} mlp_team_seat;

/* Before the parallel region: 0, or -1 when the thread synchronization cannot be created. */
int mlp_team_init(mlp_team *tm, int start, int steps, const unsigned char *schedule);
void mlp_team_destroy(mlp_team *tm);

/* Every thread, first thing in the region. */
void mlp_team_enter(mlp_team *tm, mlp_team_seat *seat, int me, int parts);
/* The barrier of the working team. */
void mlp_team_sync(mlp_team *tm, const mlp_team_seat *seat);
/* At the top of each step s: a working thread gets s back; a parked one sleeps until the team is called back
 * (then it gets the step to run) or the epoch is over (-1). */
int mlp_team_turn(mlp_team *tm, mlp_team_seat *seat, int s);
/* Thread 0, between step s's two barriers: choose the team of step s + 1. */
void mlp_team_policy(mlp_team *tm, int s);
/* Every working thread, after step s's update: take the team chosen for step s + 1 (shrinking: all finish step s
 * together, then the others park; growing: the parked threads are woken and join). */
void mlp_team_adopt(mlp_team *tm, mlp_team_seat *seat, int s);
/* Thread 0, after its last step: parked threads leave their turn with -1. */
void mlp_team_finish(mlp_team *tm);

#endif
