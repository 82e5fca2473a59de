// C shims for JadeVectorDB: the shared-memory segment layout with atomic accessors, process
// spawning with explicit fd mapping, and a few Linux calls that Swift cannot make cleanly.
#ifndef CJADESHM_H
#define CJADESHM_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>

#include "CJadeRateLimit.h"
#include "CJadeBreaker.h"

#define JADE_SHM_MAGIC 0x3130534544414A00ULL /* "\0JADES01" */
#define JADE_SHM_VERSION 3u
/// Worker records: every live worker (of any generation) owns one record.
#define JADE_MAX_RECORDS 256
/// Socket slots: the configured number of workers cannot exceed this.
#define JADE_MAX_SLOTS 128
/// Per-user permission epochs, indexed by user id modulo this (a collision only costs misses).
#define JADE_USER_EPOCH_BUCKETS 8192
/// Metric counters per block: one block per worker record, plus the retired block (index
/// JADE_MAX_RECORDS) holding the totals of workers that exited. 32 KiB per block; pages of the
/// memfd are only allocated when touched, and only [0, metrics_used) is ever touched.
#define JADE_METRICS_CAPACITY 4096
/// Index of the retired block.
#define JADE_METRICS_RETIRED JADE_MAX_RECORDS

enum jade_worker_state {
    JADE_WORKER_FREE = 0,
    JADE_WORKER_STARTING = 1,
    JADE_WORKER_READY = 2,
    JADE_WORKER_DRAINING = 3,
    JADE_WORKER_EXITED = 4,
};

/// One worker process: 64 bytes, so two workers never share a cache line (the segment is
/// page-aligned and the header is 256 bytes).
typedef struct {
    int32_t pid;
    uint32_t slot;
    uint32_t generation;
    uint32_t state;
    uint64_t heartbeat_ns;   /* CLOCK_MONOTONIC, written by the worker */
    int64_t in_flight;       /* requests being handled now */
    uint64_t requests_total; /* requests answered by this worker */
    uint64_t connections;    /* open connections */
    uint64_t started_ns;
    uint32_t metrics_excluded; /* 1: the worker's series table differs from the segment's; its
                                  metrics block is left out of every total */
    uint32_t pad;
} jade_worker_record_t;

/// The segment header. The master writes it once before any worker starts, except the
/// fields documented as live.
typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t record_count;
    uint64_t segment_size;       /* whole segment: the fixed part, then the rate-limit region */
    int32_t master_pid;
    uint32_t configured_workers; /* live: changes on reload */
    uint32_t current_generation; /* live: generation of the newest workers */
    uint32_t ready_workers;      /* live: master's view of ready workers in the current generation */
    uint64_t master_started_ns;
    uint64_t worker_restarts;    /* live: restarts of workers that died */
    uint64_t reloads;            /* live: accepted reloads */
    uint64_t global_epoch;       /* live: bumped to invalidate every cached permission */
    uint64_t ratelimit_offset;   /* byte offset of the rate-limit table region (page-aligned; 0: none) */
    uint64_t ratelimit_size;     /* its size in bytes (see CJadeRateLimit.h) */
    uint64_t blocks_epoch;       /* live: bumped whenever an IP block is added or removed */
    uint64_t metrics_offset;     /* byte offset of the metrics region (page-aligned) */
    uint64_t metrics_capacity;   /* counters per block (JADE_METRICS_CAPACITY) */
    uint64_t metrics_used;       /* live: counters in use (max over workers; only grows) */
    uint64_t metrics_layout;     /* live: fingerprint of the series table (0: none yet) */
    uint64_t metrics_fold_seq;   /* live: seqlock, odd while the master folds a block */
    uint64_t catalogue_epoch;    /* live: bumped after every vector-store write transaction */
    uint64_t reserved[6];
    /* live: the global rate limit's theoretical arrival time (jade_gcra_take), alone in the
       header's last cache line so that the fields read on every request never share it */
    uint64_t global_limit_tat;
    uint64_t reserved_tail[7];
} jade_shm_header_t;

_Static_assert(sizeof(jade_worker_record_t) == 64, "worker record must be one cache line");
_Static_assert(sizeof(jade_shm_header_t) == 256, "header must be 256 bytes");
_Static_assert(__builtin_offsetof(jade_shm_header_t, global_limit_tat) == 192, "global limit in its own line");

typedef struct {
    jade_shm_header_t header;
    jade_worker_record_t records[JADE_MAX_RECORDS];
    /// Bumped whenever anything that grants a user permissions changes (roles, groups, ACLs,
    /// activation, sessions, keys); cached decisions stamped with an older value are misses.
    uint64_t user_epochs[JADE_USER_EPOCH_BUCKETS];
    /// Circuit breakers around SQLite, shared by every worker: [0] reads, [1] writes.
    jade_breaker_t breakers[2];
} jade_shm_segment_t;

/// Size in bytes of the fixed part of the segment (header, records, epochs), rounded up to a
/// page. The rate-limit region, when there is one, follows it: the whole segment is
/// jade_shm_total_size(capacity) bytes, recorded in header.segment_size.
size_t jade_shm_segment_size(void);
/// Size in bytes of a segment whose rate-limit table holds `ratelimit_capacity` entries
/// (normalized as jade_rl_normalize_capacity does; 0: no table), followed by the metrics region.
size_t jade_shm_total_size(uint64_t ratelimit_capacity);
/// Size in bytes of the metrics region: (JADE_MAX_RECORDS + 1) blocks of JADE_METRICS_CAPACITY
/// counters, rounded up to a page.
size_t jade_metrics_region_size(void);
/// Creates an anonymous memfd holding a segment with a rate-limit table of `ratelimit_capacity`
/// entries (0: none) and the given full-table policy, and maps it. The table's hash seed comes
/// from getrandom. The memfd is sealed against shrinking and growing. Returns the fd
/// (close-on-exec), or -1 with errno set.
int jade_shm_create_with_ratelimit(uint64_t ratelimit_capacity, uint32_t policy, jade_shm_segment_t **out);
/// jade_shm_create_with_ratelimit(JADE_RL_DEFAULT_CAPACITY, JADE_RL_FAIL_OPEN, out).
int jade_shm_create(jade_shm_segment_t **out);
/// Maps an existing segment fd, whole (its size is read from the header). Returns 0, or -1 with
/// errno set (EPROTO: bad magic, version, size or rate-limit region).
int jade_shm_attach(int fd, jade_shm_segment_t **out);
/// The rate-limit table of a segment, or NULL when it has none.
jade_rl_table_t *jade_shm_ratelimit(jade_shm_segment_t *s);

/* Atomic accessors (sequentially consistent unless noted). */
static inline uint64_t jade_load_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void jade_store_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint64_t jade_add_u64(uint64_t *p, uint64_t v) { return __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }
static inline int64_t jade_load_i64(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline int64_t jade_add_i64(int64_t *p, int64_t v) { return __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }
static inline void jade_store_i64(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint32_t jade_load_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void jade_store_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline int32_t jade_load_i32(const int32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void jade_store_i32(int32_t *p, int32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static inline uint64_t *jade_user_epoch(jade_shm_segment_t *s, uint64_t user_id) {
    return &s->user_epochs[user_id % JADE_USER_EPOCH_BUCKETS];
}
static inline jade_breaker_t *jade_breaker(jade_shm_segment_t *s, int which) { return &s->breakers[which]; }
static inline uint64_t *jade_global_epoch(jade_shm_segment_t *s) { return &s->header.global_epoch; }
static inline uint64_t *jade_catalogue_epoch(jade_shm_segment_t *s) { return &s->header.catalogue_epoch; }
static inline uint64_t *jade_global_limit_tat(jade_shm_segment_t *s) { return &s->header.global_limit_tat; }

static inline jade_worker_record_t *jade_record(jade_shm_segment_t *s, uint32_t i) { return &s->records[i]; }

/* Metrics: per-record blocks of uint64 counters indexed by series id. Only the worker owning a
   record adds to its block (relaxed atomic adds); the master folds a reaped worker's block into
   the retired block under the fold seqlock; a scrape sums the retired block and every non-free
   record's block under that seqlock, so it never sees a fold half done (no double count, no
   decrease). */

/// Block `index` (0 ..< JADE_MAX_RECORDS: a worker record's; JADE_METRICS_RETIRED: retired).
static inline uint64_t *jade_metrics_block(jade_shm_segment_t *s, uint32_t index) {
    return (uint64_t *)((char *)s + s->header.metrics_offset) + (size_t)index * JADE_METRICS_CAPACITY;
}
/// Publishes that the worker owning record `index` uses `used` counters with series-table
/// fingerprint `layout`. Returns 0, or -1 when another layout is already recorded (a different
/// binary after an upgrade and reload): the record is then marked metrics_excluded, so its block
/// is left out of every total and never folded.
int jade_metrics_register_layout(jade_shm_segment_t *s, uint32_t index, uint64_t layout, uint64_t used);
/// Master only, after the worker owning record `index` has exited and before the record is
/// reused: adds its block into the retired block and zeroes it, under the fold seqlock.
void jade_metrics_fold(jade_shm_segment_t *s, uint32_t index);
/// Sums the retired block and the blocks of every record whose state is not FREE into
/// out[0 ..< count] (count <= metrics_used is typical), consistent with respect to folds.
/// Returns the number of attempts it took (1 unless a fold raced).
int jade_metrics_snapshot(jade_shm_segment_t *s, uint64_t *out, uint64_t count);

/// An anonymous close-on-exec memfd holding `size` bytes copied from `data`; -1 with errno.
int jade_memfd_with_contents(const char *name, const void *data, size_t size);
/// Sets glibc's allocator for a long-running server process (a worker): large blocks mapped and
/// given back on free, the heap trimmed above 1 MiB of free top space, at most 4 arenas. Call
/// first thing, before other threads start.
void jade_tune_malloc(void);
/// Names this process for `ps`, `pgrep` and `ss -p`: the command name (comm, 15 bytes) becomes
/// `comm` and the command line (argv's memory, overwritten in place and truncated to fit) becomes
/// `title`. Call after the arguments have been parsed: they are gone afterwards.
void jade_set_process_title(const char *comm, const char *title);
/// An anonymous close-on-exec memfd of `size` zero bytes (pages allocated only when written);
/// -1 with errno.
int jade_memfd_zeroed(const char *name, size_t size);

/// Monotonic clock in nanoseconds.
uint64_t jade_monotonic_ns(void);

/// Spawns `path` with `argv`/`envp`, mapping src_fds[i] to dst_fds[i] in the child and closing
/// every other descriptor; the child starts with an empty signal mask and default dispositions.
/// Returns 0 and the pid, or an errno value.
int jade_spawn(const char *path, char *const argv[], char *const envp[], const int *src_fds,
               const int *dst_fds, int nfds, pid_t *pid_out);

/// PR_SET_PDEATHSIG: deliver `sig` to this process when its parent dies.
int jade_set_parent_death_signal(int sig);

/// Creates a listening TCP socket with SO_REUSEADDR and SO_REUSEPORT, non-blocking, close-on-exec.
/// Returns the fd, or -1 with errno set.
int jade_listen_reuseport(const char *host, int port, int backlog);
/// Checks that host:port can be bound by a socket without SO_REUSEPORT (nobody else holds it).
/// With port 0, picks a free port. Returns the port, or -1 with errno set.
int jade_probe_port(const char *host, int port);
/// Port a socket is bound to, or -1.
int jade_socket_port(int fd);
/// 1 when fd is a listening stream socket, else 0.
int jade_is_listening_socket(int fd);

/// Non-blocking accept of one pending connection (close-on-exec, non-blocking). -1 with errno
/// EAGAIN when the queue is empty.
int jade_accept_nonblocking(int fd);

/// A non-blocking close-on-exec eventfd (to wake a poll loop); -1 with errno.
int jade_eventfd(void);

/// 1 when `path` lives on a network filesystem (NFS, CIFS/SMB, 9p, FUSE-based network mounts
/// are not detected), 0 when local, -1 with errno on error.
int jade_is_network_filesystem(const char *path);

#endif
