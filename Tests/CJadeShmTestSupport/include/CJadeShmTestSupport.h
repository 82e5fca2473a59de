// Multi-process helpers for the shared-memory tests. The forked children run only C: they touch
// the shared table through CJadeShm (user-space code and futexes), call async-signal-safe
// functions, and leave with _exit, so forking the multi-threaded test process is safe.
#ifndef CJADESHMTESTSUPPORT_H
#define CJADESHMTESTSUPPORT_H

#include "CJadeShm.h"

/// Result of jrl_hammer.
typedef struct {
    /// Takes allowed, summed over every child and key.
    long allowed;
    /// Takes attempted.
    long attempts;
    /// Nanoseconds from the start signal until the last child exited.
    uint64_t elapsed_ns;
} jrl_hammer_result_t;

/// Forks `children` processes that wait for a common start signal, then each take `attempts`
/// times from the buckets of `keys` (round-robin; child i starts at key i) with cost 1. `now_ns`
/// 0 reads CLOCK_MONOTONIC before every take, else every take uses `now_ns`. Returns 0, or an
/// errno value (EIO when a child failed).
int jrl_hammer(jade_rl_table_t *t, const jade_rl_key_t *keys, int nkeys, int children, int attempts,
               uint64_t now_ns, double rate, double burst, jrl_hammer_result_t *out);
/// The same with jade_gcra_take on one shared word (`word` must be in shared memory).
int jrl_hammer_gcra(uint64_t *word, int children, int attempts, uint64_t now_ns, double rate, double burst,
                    jrl_hammer_result_t *out);

/// Forks a child that locks the stripe of `key` and exits without unlocking it, and waits for
/// it. Returns 0, or an errno value.
int jrl_die_holding_lock(jade_rl_table_t *t, jade_rl_key_t key);

#endif
