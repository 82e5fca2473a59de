// A circuit breaker whose state lives in shared memory, so every worker process agrees on it.
#ifndef CJADEBREAKER_H
#define CJADEBREAKER_H

#include <pthread.h>
#include <stdint.h>

#define JADE_CB_BUCKETS 12

enum jade_breaker_state { JADE_CB_CLOSED = 0, JADE_CB_OPEN = 1, JADE_CB_HALF_OPEN = 2 };

/// Outcome of asking to make a call.
enum jade_breaker_admission {
    JADE_CB_REJECT = 0,  /* open (or a probe is already out): fail fast */
    JADE_CB_ALLOW = 1,   /* a normal call */
    JADE_CB_PROBE = 2,   /* the one half-open probe: report its outcome */
};

/// Transitions reported by jade_breaker_record / jade_breaker_admit.
enum jade_breaker_transition { JADE_CB_NONE = 0, JADE_CB_OPENED = 1, JADE_CB_CLOSED_AGAIN = 2, JADE_CB_HALF_OPENED = 3 };

typedef struct {
    double failure_rate;      /* failures / calls within the window that opens it (0..1] */
    uint32_t failure_threshold; /* and at least this many failures */
    uint32_t minimum_calls;   /* and at least this many calls */
    uint64_t window_ns;       /* counting window */
    uint64_t open_ns;         /* how long it stays open before one probe */
} jade_breaker_config_t;

typedef struct {
    pthread_mutex_t mutex; /* process-shared, robust */
    uint32_t state;
    uint32_t probe_out;
    uint64_t opened_ns;
    uint64_t probe_ns;
    uint64_t bucket_epoch[JADE_CB_BUCKETS];
    uint32_t bucket_calls[JADE_CB_BUCKETS];
    uint32_t bucket_failures[JADE_CB_BUCKETS];
    uint64_t transitions;
    uint64_t failures_total;
    uint64_t last_failure_ns;
    int64_t last_failure_unix_ms;
    uint32_t last_error_kind;
    uint32_t pad;
} jade_breaker_t;

/// Initializes a breaker in (shared) memory: closed, empty window.
int jade_breaker_init(jade_breaker_t *b);
/// `now` arguments are CLOCK_MONOTONIC nanoseconds; 0 means "read the clock" (only when needed).
/// Asks to make a call at `now`. On REJECT, *retry_after_ns says when to try again.
/// *transition reports OPEN -> HALF_OPEN when this call becomes the probe.
int jade_breaker_admit(jade_breaker_t *b, const jade_breaker_config_t *c, uint64_t now, uint64_t *retry_after_ns,
                       uint32_t *transition);
/// Reports a call's outcome (`failed`: a hard failure; contention and client errors are not
/// reported at all). `probe`: the call was admitted as the probe. Returns the transition.
uint32_t jade_breaker_record(jade_breaker_t *b, const jade_breaker_config_t *c, uint64_t now, int failed, int probe,
                             uint32_t error_kind, int64_t unix_ms);

/// A consistent copy of the public fields.
typedef struct {
    uint32_t state;
    uint32_t window_calls;
    uint32_t window_failures;
    uint32_t last_error_kind;
    uint64_t transitions;
    uint64_t failures_total;
    int64_t last_failure_unix_ms;
    uint64_t opened_ns;
} jade_breaker_view_t;

void jade_breaker_view(jade_breaker_t *b, const jade_breaker_config_t *c, uint64_t now, jade_breaker_view_t *out);

#endif
