// Token-bucket rate limiting shared by every worker process: a fixed-size hash table in the
// shared-memory segment, exact across processes (striped process-shared robust mutexes).
//
// Layout of the region (offsets from its start, which is page-aligned):
//   [region header, 256 bytes][stripe headers: stripes x 128 bytes][entries: capacity x 64 bytes]
// The table is bucketed: a key hashes to one stripe of JADE_RL_STRIPE_ENTRIES entries (a
// 64-way bucket) and may live in any entry of it. A stripe header holds the stripe's robust
// mutex and one tag byte per entry (8 bits of the key's second hash, 0: free), so a lookup
// takes one lock, reads one line of tags and then, almost always, only the key's own entry.
//
// Sizing: an entry is 64 bytes and each 64 entries add a 128-byte stripe header, so the table
// holds about 15,900 keys per MiB (JADE_RL_KEYS_PER_MIB); the default 65536 entries take
// 4.13 MiB. Keys spread over stripes at random: the first stripe fills up at 60-70% of
// capacity, and at 80% about 0.2% of new keys find no room, so size the table to about 1.5 x the
// keys that are live at once (a key is live until its bucket has refilled: burst / rate).
#ifndef CJADERATELIMIT_H
#define CJADERATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define JADE_RL_MAGIC 0x31304C5245444A00ULL /* "\0JDERL01" */
#define JADE_RL_VERSION 1u
#define JADE_RL_DEFAULT_CAPACITY 65536u
#define JADE_RL_MIN_CAPACITY 16u
#define JADE_RL_MAX_CAPACITY (1u << 24)
/// Entries of one stripe (one lock, one bucket); smaller tables have one stripe of all entries.
#define JADE_RL_STRIPE_ENTRIES 64u
#define JADE_RL_ENTRY_SIZE 64u
#define JADE_RL_STRIPE_HEADER_SIZE 128u
/// Keys per MiB of region: 1 MiB / (64 + 128 / 64) bytes.
#define JADE_RL_KEYS_PER_MIB 15887u
/// Token slack: a bucket within this many tokens of a threshold counts as reaching it, so that
/// rates such as 5/60 per second refill exactly one token in 12 s despite binary rounding.
#define JADE_RL_TOLERANCE 1e-6

/// What a take does when the key is new and its stripe is full of live buckets.
enum jade_rl_policy {
    /// Use the policy stored in the table (set by the master, changeable on reload).
    JADE_RL_POLICY_TABLE = 0,
    /// Allow the request untracked, and count it.
    JADE_RL_FAIL_OPEN = 1,
    /// Deny the request, and count it.
    JADE_RL_FAIL_CLOSED = 2,
};

/// Eviction classes: what a new key may push out of a full stripe once no entry is free or
/// idle. A key of class c below PINNED may take the least recently used live bucket of a class
/// at most c; a PINNED key may take live ANONYMOUS and ADDRESS buckets; live PINNED buckets are
/// never taken. So keys that unauthenticated clients choose freely (account names in a reset
/// request) churn among themselves, client addresses cannot push out authenticated identities,
/// and counters that must not be lost (open connections) stay.
enum jade_rl_class {
    /// Keys an unauthenticated client picks at will (an account name in a reset request).
    JADE_RL_CLASS_ANONYMOUS = 0,
    /// Keys of client addresses (login, registration, reset per address, failed logins).
    JADE_RL_CLASS_ADDRESS = 1,
    /// Keys of authenticated identities (API limit per key or user).
    JADE_RL_CLASS_IDENTITY = 2,
    /// Never evicted while live; never evicts a live bucket (jade_rl_take's class).
    JADE_RL_CLASS_PINNED = 3,
};

/// Flags of a decision.
enum jade_rl_flags {
    /// The key had no bucket: one was created (full) for it.
    JADE_RL_FLAG_NEW = 1u << 0,
    /// Creating it reused an idle bucket of another key.
    JADE_RL_FLAG_EVICTED = 1u << 1,
    /// The key's stripe had no free or idle entry: the full-table policy decided, nothing was
    /// recorded.
    JADE_RL_FLAG_TABLE_FULL = 1u << 2,
    /// The stripe lock was recovered from a process that died holding it.
    JADE_RL_FLAG_RECOVERED = 1u << 3,
    /// The stripe lock could not be taken (not recoverable): the full-table policy decided.
    JADE_RL_FLAG_LOCK_FAILED = 1u << 4,
    /// Creating it took a live bucket of another key (of the same or a lower class).
    JADE_RL_FLAG_EVICTED_LIVE = 1u << 5,
};

/// The identity of a bucket: two independent 64-bit hashes of (kind, key). `primary` picks the
/// stripe, `check` gives the tag; both must match for a hit.
typedef struct {
    uint64_t primary;
    uint64_t check;
} jade_rl_key_t;

/// One bucket, one cache line. Exposed for documentation and tests; use the functions below.
typedef struct {
    uint64_t key;          /* primary hash (0 in a free entry; the stripe's tag decides) */
    uint64_t check;        /* second hash; must match too */
    double tokens;         /* tokens at refill_ns, 0 ... burst */
    uint64_t refill_ns;    /* last refill (CLOCK_MONOTONIC) */
    uint64_t last_use_ns;  /* last take (LRU order); the top two bits hold the jade_rl_class */
    uint64_t full_ns;      /* when the bucket is full again: idle, hence reusable, from then on */
    double rate;           /* tokens per second at the last take */
    double burst;          /* bucket size at the last take */
} jade_rl_entry_t;

_Static_assert(sizeof(jade_rl_entry_t) == JADE_RL_ENTRY_SIZE, "entry must be one cache line");

/// The table (the region in shared memory); opaque.
typedef struct jade_rl_table jade_rl_table_t;

/// One decision. Times are relative to the `now_ns` passed in.
typedef struct {
    /// 1 when the request may proceed.
    int32_t allowed;
    /// jade_rl_flags.
    uint32_t flags;
    /// Tokens left after the decision (fractional).
    double remaining;
    /// When denied: nanoseconds until `cost` tokens are available (0 when allowed).
    uint64_t retry_after_ns;
    /// Nanoseconds until the bucket is full again (0 when full).
    uint64_t reset_ns;
} jade_rl_result_t;

/// Counters and geometry of a table.
typedef struct {
    uint64_t capacity;
    uint64_t stripes;
    uint64_t stripe_entries;
    uint64_t entry_size;
    uint64_t region_size;
    /// Entries holding a key (live or idle); approximate after a lock recovery.
    uint64_t in_use;
    /// Takes of a new key that found no room (each decided by the full-table policy).
    uint64_t table_full;
    /// Of those, the ones allowed (fail-open).
    uint64_t fail_open_allowed;
    /// Buckets of other keys reused for a new key (idle or live).
    uint64_t evictions;
    /// Stripe locks recovered from a dead owner (EOWNERDEAD).
    uint64_t lock_recoveries;
    /// Stripe locks that could not be taken (ENOTRECOVERABLE).
    uint64_t lock_failures;
    /// The table's full-table policy.
    uint32_t policy;
    uint32_t reserved;
    /// Of the evictions, those that took a live bucket (see jade_rl_class).
    uint64_t live_evictions;
} jade_rl_stats_t;

/// `requested` rounded up to a power of two within [JADE_RL_MIN_CAPACITY, JADE_RL_MAX_CAPACITY].
uint64_t jade_rl_normalize_capacity(uint64_t requested);
/// Bytes of a region holding `capacity` entries (normalized), rounded up to a page.
size_t jade_rl_region_size(uint64_t capacity);
/// Initializes a zero-filled region of `size` bytes in MAP_SHARED memory (master, before any
/// worker maps it): geometry, the hash seed (16 bytes), the policy and one robust
/// process-shared mutex per stripe. Returns 0 or an errno value.
int jade_rl_init(void *region, size_t size, uint64_t capacity, uint32_t policy, const uint64_t seed[2]);
/// Validates an initialized region. Returns the table, or NULL with errno EPROTO.
jade_rl_table_t *jade_rl_open(void *region, size_t size);

/// The bucket identity of (kind, key): SipHash-2-4-128 keyed with the table's secret seed over
/// len(kind) as 8 bytes little-endian, kind, key. Stable for the life of the segment.
jade_rl_key_t jade_rl_hash(const jade_rl_table_t *t, const void *kind, size_t kind_len, const void *key,
                           size_t key_len);

/// Takes `cost` tokens from the bucket of `key` if it holds them. The bucket refills at `rate`
/// tokens per second up to `burst`; a new key starts full. `now_ns` is CLOCK_MONOTONIC, read
/// before the call (no clock or other syscall runs under the lock). `policy` overrides the
/// table's full-table policy unless JADE_RL_POLICY_TABLE. Returns 0, or -EINVAL when rate or
/// burst is not positive and finite, or cost is negative, not finite or above burst.
int jade_rl_take(jade_rl_table_t *t, jade_rl_key_t key, uint64_t now_ns, double rate, double burst, double cost,
                 uint32_t policy, jade_rl_result_t *out);
/// jade_rl_take for a key of eviction class `klass` (jade_rl_class; jade_rl_take uses PINNED).
int jade_rl_take_class(jade_rl_table_t *t, jade_rl_key_t key, uint64_t now_ns, double rate, double burst,
                       double cost, uint32_t policy, uint32_t klass, jade_rl_result_t *out);
/// One token-bucket decision (cost 1) on a bucket held in a single 64-bit word, lock-free: the
/// generic cell rate algorithm. `*tat` is the theoretical arrival time in CLOCK_MONOTONIC
/// nanoseconds (0: a full bucket); a request passes when, after it, the bucket would be at most
/// `burst` tokens behind `now` at `rate` tokens per second. One compare-and-swap per decision,
/// so a bucket every request of every worker takes (the global limit) costs one cache line.
/// Fills `out` as jade_rl_take does (flags 0). Returns 0, or -EINVAL for a bad rate or burst.
int jade_gcra_take(uint64_t *tat, uint64_t now_ns, double rate, double burst, jade_rl_result_t *out);

/// What jade_rl_take would decide, without taking or creating anything (an absent key is full).
int jade_rl_peek(jade_rl_table_t *t, jade_rl_key_t key, uint64_t now_ns, double rate, double burst, double cost,
                 jade_rl_result_t *out);
/// Forgets the bucket of `key` (admin unblock): its next take starts full. Returns 1 when a
/// bucket was removed, 0 when there was none, or a negative errno when the lock failed.
int jade_rl_reset(jade_rl_table_t *t, jade_rl_key_t key);
/// Gives `amount` tokens back to an existing bucket (capped at burst): a bucket used as a
/// counter of things held, such as open connections per client address. Returns 1 when the
/// bucket existed, 0 when not, negative errno on bad arguments or a lock failure.
int jade_rl_refund(jade_rl_table_t *t, jade_rl_key_t key, uint64_t now, double rate, double burst, double amount);
/// Counters and geometry.
void jade_rl_stats(const jade_rl_table_t *t, jade_rl_stats_t *out);
/// Entries whose bucket is not full at `now_ns` (a lock-free scan of the whole table, for
/// metrics; approximate under concurrent takes).
uint64_t jade_rl_count_live(const jade_rl_table_t *t, uint64_t now_ns);
/// Sets the table's full-table policy (JADE_RL_FAIL_OPEN or JADE_RL_FAIL_CLOSED).
void jade_rl_set_policy(jade_rl_table_t *t, uint32_t policy);

/// Testing only: locks the stripe of `key` and returns without unlocking (a child process
/// calls this and exits to leave an owner-dead lock). Returns 0 or an errno value.
int jade_rl_debug_lock(jade_rl_table_t *t, jade_rl_key_t key);
/// Testing only: unlocks what jade_rl_debug_lock locked.
int jade_rl_debug_unlock(jade_rl_table_t *t, jade_rl_key_t key);

/// SipHash-2-4 with a 128-bit output (out[0] holds bytes 0-7 little-endian, out[1] bytes 8-15).
void jade_siphash24_128(uint64_t k0, uint64_t k1, const void *data, size_t len, uint64_t out[2]);

#endif
