#define _GNU_SOURCE
#include "CJadeBreaker.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* The state and the bucket epochs are read without the lock on the hot path (a closed breaker
   admitting a call, a success counted into the current bucket), so every write to them is an
   atomic store; the counters are advisory, so a count racing a bucket rotation may be lost. */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static uint64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int jade_breaker_init(jade_breaker_t *b) {
    memset(b, 0, sizeof *b);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&b->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}

static int lock(jade_breaker_t *b) {
    int rc = pthread_mutex_lock(&b->mutex);
    if (rc == EOWNERDEAD) {
        /* The holder died mid-update; the counters are advisory, so carry on. */
        pthread_mutex_consistent(&b->mutex);
        return 0;
    }
    return rc;
}

static uint64_t bucket_ns(const jade_breaker_config_t *c) {
    uint64_t ns = c->window_ns / JADE_CB_BUCKETS;
    return ns ? ns : 1;
}

/* Sums the buckets that fall inside the window ending at `now`. */
static void window(jade_breaker_t *b, const jade_breaker_config_t *c, uint64_t now, uint32_t *calls, uint32_t *fails) {
    uint64_t current = now / bucket_ns(c);
    *calls = 0;
    *fails = 0;
    for (int i = 0; i < JADE_CB_BUCKETS; i++) {
        if (b->bucket_epoch[i] + JADE_CB_BUCKETS > current && b->bucket_epoch[i] <= current) {
            *calls += __atomic_load_n(&b->bucket_calls[i], __ATOMIC_RELAXED);
            *fails += b->bucket_failures[i];
        }
    }
}

static void clear_window(jade_breaker_t *b) {
    for (int i = 0; i < JADE_CB_BUCKETS; i++) {
        STORE(&b->bucket_epoch[i], 0);
        __atomic_store_n(&b->bucket_calls[i], 0, __ATOMIC_RELAXED);
        b->bucket_failures[i] = 0;
    }
}

int jade_breaker_admit(jade_breaker_t *b, const jade_breaker_config_t *c, uint64_t now, uint64_t *retry_after_ns,
                       uint32_t *transition) {
    *transition = JADE_CB_NONE;
    *retry_after_ns = 0;
    /* Fast path: a closed breaker admits without the lock or the clock. */
    if (LOAD(&b->state) == JADE_CB_CLOSED) return JADE_CB_ALLOW;
    if (now == 0) now = clock_ns(CLOCK_MONOTONIC);
    if (lock(b) != 0) return JADE_CB_ALLOW; /* never let a broken lock stop the server */
    int result = JADE_CB_ALLOW;
    switch (b->state) {
    case JADE_CB_OPEN:
        if (now - b->opened_ns >= c->open_ns) {
            STORE(&b->state, JADE_CB_HALF_OPEN);
            b->probe_out = 1;
            b->probe_ns = now;
            b->transitions++;
            *transition = JADE_CB_HALF_OPENED;
            result = JADE_CB_PROBE;
        } else {
            *retry_after_ns = c->open_ns - (now - b->opened_ns);
            result = JADE_CB_REJECT;
        }
        break;
    case JADE_CB_HALF_OPEN:
        /* One probe at a time, across every worker; a probe lost with its process is replaced
           after another open period. */
        if (b->probe_out && now - b->probe_ns < c->open_ns) {
            *retry_after_ns = 1000000000ull;
            result = JADE_CB_REJECT;
        } else {
            b->probe_out = 1;
            b->probe_ns = now;
            result = JADE_CB_PROBE;
        }
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&b->mutex);
    return result;
}

uint32_t jade_breaker_record(jade_breaker_t *b, const jade_breaker_config_t *c, uint64_t now, int failed, int probe,
                             uint32_t error_kind, int64_t unix_ms) {
    /* Fast path: a success on a closed breaker is one atomic add to the current bucket (5 s wide
       by default, so the coarse clock is precise enough); the lock is taken only to rotate a
       bucket, to count a failure, or while open or half-open. */
    if (!failed && !probe && LOAD(&b->state) == JADE_CB_CLOSED) {
        uint64_t coarse = now ? now : clock_ns(CLOCK_MONOTONIC_COARSE);
        uint64_t epoch = coarse / bucket_ns(c);
        int i = (int)(epoch % JADE_CB_BUCKETS);
        if (LOAD(&b->bucket_epoch[i]) == epoch) {
            __atomic_fetch_add(&b->bucket_calls[i], 1, __ATOMIC_RELAXED);
            return JADE_CB_NONE;
        }
        now = coarse;
    }
    if (now == 0) now = clock_ns(CLOCK_MONOTONIC);
    if (lock(b) != 0) return JADE_CB_NONE;
    uint32_t transition = JADE_CB_NONE;
    if (failed) {
        b->failures_total++;
        b->last_failure_ns = now;
        b->last_failure_unix_ms = unix_ms;
        b->last_error_kind = error_kind;
    }
    if (b->state == JADE_CB_HALF_OPEN) {
        if (probe) {
            b->probe_out = 0;
            if (failed) {
                b->opened_ns = now;
                STORE(&b->state, JADE_CB_OPEN);
                transition = JADE_CB_OPENED;
            } else {
                clear_window(b);
                STORE(&b->state, JADE_CB_CLOSED);
                transition = JADE_CB_CLOSED_AGAIN;
            }
            b->transitions++;
        }
    } else if (b->state == JADE_CB_CLOSED) {
        uint64_t epoch = now / bucket_ns(c);
        int i = (int)(epoch % JADE_CB_BUCKETS);
        if (b->bucket_epoch[i] != epoch) {
            __atomic_store_n(&b->bucket_calls[i], 0, __ATOMIC_RELAXED);
            b->bucket_failures[i] = 0;
            STORE(&b->bucket_epoch[i], epoch);
        }
        __atomic_fetch_add(&b->bucket_calls[i], 1, __ATOMIC_RELAXED);
        if (failed) {
            b->bucket_failures[i]++;
            uint32_t calls, fails;
            window(b, c, now, &calls, &fails);
            if (fails >= c->failure_threshold && calls >= c->minimum_calls &&
                (double)fails >= c->failure_rate * (double)calls) {
                b->opened_ns = now;
                STORE(&b->state, JADE_CB_OPEN);
                b->transitions++;
                transition = JADE_CB_OPENED;
            }
        }
    }
    pthread_mutex_unlock(&b->mutex);
    return transition;
}

void jade_breaker_view(jade_breaker_t *b, const jade_breaker_config_t *c, uint64_t now, jade_breaker_view_t *out) {
    memset(out, 0, sizeof *out);
    if (now == 0) now = clock_ns(CLOCK_MONOTONIC);
    if (lock(b) != 0) return;
    out->state = b->state;
    window(b, c, now, &out->window_calls, &out->window_failures);
    out->last_error_kind = b->last_error_kind;
    out->transitions = b->transitions;
    out->failures_total = b->failures_total;
    out->last_failure_unix_ms = b->last_failure_unix_ms;
    out->opened_ns = b->opened_ns;
    pthread_mutex_unlock(&b->mutex);
}
