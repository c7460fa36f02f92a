/* runlock.h - one process per run folder (runlock.c, docs/ROBUSTNESS.md). */
#ifndef MLP_RUNLOCK_H
#define MLP_RUNLOCK_H

#define RUN_LOCK_FILE ".mlp.lock"

/* Take the exclusive lock of the run folder dir (which must exist), or exit 1 naming the process that holds
 * it. The lock is a POSIX record lock on dir/.mlp.lock: the kernel drops it when its process dies, however it
 * dies, so a lock file left by a dead process is free and is simply taken over. Released (and the file
 * removed) when the process exits. Call it before writing anything else into dir. */
void run_lock(const char *dir);
/* The pid of the process that holds dir's lock, or 0 when none does (nothing is created). */
long run_lock_holder(const char *dir);
/* 1 when name is the lock file's name (a run folder's own file, not part of a run). */
int run_lock_is_file(const char *name);

#endif
