// The shared token-bucket table (see CJadeRateLimit.h for the layout and sizing).
//
// Locking: one process-shared robust mutex per stripe of JADE_RL_STRIPE_ENTRIES entries. A
// decision locks one stripe, scans its tags (and, to place a new key in a full stripe, its
// entries) and does arithmetic: no syscall, allocation or clock read happens under the lock.
// When the owner of a stripe lock died (EOWNERDEAD), the lock is made consistent and the stripe
// is used as it is: a tag is published last and cleared first, and every value read from an
// entry is clamped, so a half-written bucket costs at most that key's bucket (it starts full).
#define _GNU_SOURCE
#include "CJadeRateLimit.h"
#include "siphash.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

/// Region header: geometry and seed (written once by the master), then live counters on their
/// own cache lines.
struct jade_rl_table {
    uint64_t magic;
    uint32_t version;
    uint32_t entry_size;
    uint64_t capacity;
    uint64_t stripes;
    uint64_t region_size;
    uint64_t stripes_offset;
    uint64_t entries_offset;
    uint64_t seed[2];
    uint32_t stripe_entries;
    uint32_t policy; /* live */
    uint32_t reserved0[2];
    uint64_t reserved1[5];
    /* 128: live counters (relaxed atomics) */
    uint64_t in_use;
    uint64_t table_full;
    uint64_t fail_open_allowed;
    uint64_t evictions;
    uint64_t lock_recoveries;
    uint64_t lock_failures;
    uint64_t live_evictions;
    uint64_t reserved2[9];
};

_Static_assert(sizeof(struct jade_rl_table) == 256, "rate-limit header must be 256 bytes");

/// A stripe: its lock and one tag byte per entry (0: free), so that finding a key reads
/// one cache line of tags and then, almost always, only the key's own entry.
typedef struct {
    union {
        struct {
            pthread_mutex_t mutex;
            uint64_t reserved; /* unused (was an idle-time hint); keeps the layout */
        };
        unsigned char line[64];
    };
    uint8_t tags[JADE_RL_STRIPE_ENTRIES];
} __attribute__((aligned(64))) jade_rl_stripe_t;

_Static_assert(sizeof(pthread_mutex_t) + sizeof(uint64_t) <= 64, "a stripe lock must fit one cache line");
_Static_assert(sizeof(jade_rl_stripe_t) == 128, "a stripe header is two cache lines");

/// Sentinel for "never" (cost above burst cannot happen; saturation of huge waits).
#define NS_NEVER 4000000000000000000ULL
/// A bucket's refill time may lie ahead of a caller's clock reading (another process read the
/// clock later but locked first, or a test's clock went back): the bucket then keeps its time, so
/// no refill is counted twice. A time this far ahead can only be corruption, and is discarded.
#define MAX_SKEW_NS 60000000000ULL

static inline jade_rl_stripe_t *stripe_at(jade_rl_table_t *t, uint64_t i) {
    return (jade_rl_stripe_t *)((char *)t + t->stripes_offset) + i;
}

static inline jade_rl_entry_t *entries(const jade_rl_table_t *t) {
    return (jade_rl_entry_t *)((char *)t + t->entries_offset);
}

static inline void count(uint64_t *counter, int64_t delta) {
    __atomic_add_fetch(counter, (uint64_t)delta, __ATOMIC_RELAXED);
}

uint64_t jade_rl_normalize_capacity(uint64_t requested) {
    uint64_t c = JADE_RL_MIN_CAPACITY;
    while (c < requested && c < JADE_RL_MAX_CAPACITY) c <<= 1;
    return c;
}

static void geometry(uint64_t capacity, uint64_t *stripe_entries, uint64_t *stripes, uint64_t *entries_offset,
                     size_t *size) {
    uint64_t per = capacity < JADE_RL_STRIPE_ENTRIES ? capacity : JADE_RL_STRIPE_ENTRIES;
    *stripe_entries = per;
    *stripes = capacity / per;
    *entries_offset = sizeof(struct jade_rl_table) + *stripes * sizeof(jade_rl_stripe_t);
    size_t raw = (size_t)(*entries_offset + capacity * sizeof(jade_rl_entry_t));
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    *size = (raw + page - 1) / page * page;
}

size_t jade_rl_region_size(uint64_t capacity) {
    uint64_t per, stripes, off;
    size_t size;
    geometry(jade_rl_normalize_capacity(capacity), &per, &stripes, &off, &size);
    return size;
}

int jade_rl_init(void *region, size_t size, uint64_t capacity, uint32_t policy, const uint64_t seed[2]) {
    capacity = jade_rl_normalize_capacity(capacity);
    uint64_t per, stripes, entries_offset;
    size_t needed;
    geometry(capacity, &per, &stripes, &entries_offset, &needed);
    if (size < needed || ((uintptr_t)region & 63) != 0) return EINVAL;
    if (policy != JADE_RL_FAIL_OPEN && policy != JADE_RL_FAIL_CLOSED) return EINVAL;
    jade_rl_table_t *t = (jade_rl_table_t *)region;
    memset(t, 0, sizeof *t);
    t->version = JADE_RL_VERSION;
    t->entry_size = JADE_RL_ENTRY_SIZE;
    t->capacity = capacity;
    t->stripes = stripes;
    t->region_size = needed;
    t->stripes_offset = sizeof(struct jade_rl_table);
    t->entries_offset = entries_offset;
    t->seed[0] = seed[0];
    t->seed[1] = seed[1];
    t->stripe_entries = (uint32_t)per;
    t->policy = policy;
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc == 0) rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    for (uint64_t i = 0; rc == 0 && i < stripes; i++) rc = pthread_mutex_init(&stripe_at(t, i)->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) return rc;
    /* Entries and tags are zero (free) in a fresh memfd: untouched, their pages stay unallocated. */
    __atomic_store_n(&t->magic, JADE_RL_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

jade_rl_table_t *jade_rl_open(void *region, size_t size) {
    jade_rl_table_t *t = (jade_rl_table_t *)region;
    if (size < sizeof *t || __atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) != JADE_RL_MAGIC ||
        t->version != JADE_RL_VERSION || t->entry_size != JADE_RL_ENTRY_SIZE ||
        t->capacity != jade_rl_normalize_capacity(t->capacity) || t->region_size > size) {
        errno = EPROTO;
        return NULL;
    }
    uint64_t per, stripes, off;
    size_t needed;
    geometry(t->capacity, &per, &stripes, &off, &needed);
    if (needed != t->region_size || stripes != t->stripes || off != t->entries_offset || per != t->stripe_entries) {
        errno = EPROTO;
        return NULL;
    }
    return t;
}

jade_rl_key_t jade_rl_hash(const jade_rl_table_t *t, const void *kind, size_t kind_len, const void *key,
                           size_t key_len) {
    jade_sip_t s;
    jade_sip_init(&s, t->seed[0], t->seed[1]);
    uint64_t prefix = (uint64_t)kind_len;
    uint8_t buf[256];
    if (kind_len + key_len <= sizeof buf - sizeof prefix) {
        /* Usual case: one pass over whole words is faster than absorbing three pieces. */
        memcpy(buf, &prefix, sizeof prefix);
        if (kind_len) memcpy(buf + sizeof prefix, kind, kind_len);
        if (key_len) memcpy(buf + sizeof prefix + kind_len, key, key_len);
        jade_sip_update(&s, buf, sizeof prefix + kind_len + key_len);
    } else {
        jade_sip_update(&s, &prefix, sizeof prefix);
        jade_sip_update(&s, kind, kind_len);
        jade_sip_update(&s, key, key_len);
    }
    uint64_t out[2];
    jade_sip_final(&s, out);
    jade_rl_key_t k = {out[0], out[1]};
    return k;
}

/* ---- locking ---- */

/* A stripe is held for tens of nanoseconds, so a contended lock is usually free again before
   a futex sleep and wake-up (microseconds, two syscalls) could complete: try briefly first. */
#define JADE_RL_SPIN_TRIES 100

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int lock_stripe(jade_rl_table_t *t, jade_rl_stripe_t *s, uint32_t *flags) {
    int rc = EBUSY;
    for (int i = 0; i < JADE_RL_SPIN_TRIES && rc == EBUSY; i++) {
        rc = pthread_mutex_trylock(&s->mutex);
        if (rc == EBUSY) cpu_relax();
    }
    if (rc == EBUSY) rc = pthread_mutex_lock(&s->mutex);
    if (rc == 0) return 0;
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&s->mutex);
        count(&t->lock_recoveries, 1);
        *flags |= JADE_RL_FLAG_RECOVERED;
        return 0;
    }
    count(&t->lock_failures, 1);
    *flags |= JADE_RL_FLAG_LOCK_FAILED;
    return rc;
}

/// The stripe of a key, its entries and its tag.
typedef struct {
    jade_rl_stripe_t *stripe;
    jade_rl_entry_t *base; /* first entry of the stripe */
    uint64_t valid;        /* bit i: entry i exists (stripes of small tables are shorter) */
    uint32_t count;        /* entries in the stripe */
    uint8_t tag;
} slot_t;

static inline slot_t slot_of(jade_rl_table_t *t, jade_rl_key_t key) {
    uint64_t stripe = key.primary & (t->stripes - 1);
    uint8_t tag = (uint8_t)(key.check >> 56);
    uint32_t n = t->stripe_entries;
    slot_t s = {stripe_at(t, stripe), entries(t) + stripe * n, n == 64 ? ~0ULL : (1ULL << n) - 1, n,
                tag ? tag : 1};
    return s;
}

/// Bit i set when tags[i] == tag, for the 64 tags of a stripe (SWAR, exact per byte).
static inline uint64_t tag_matches(const uint8_t *tags, uint8_t tag) {
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7fULL, ones = 0x0101010101010101ULL;
    uint64_t mask = 0;
    for (unsigned w = 0; w < JADE_RL_STRIPE_ENTRIES / 8; w++) {
        uint64_t x;
        memcpy(&x, tags + 8 * w, 8);
        x ^= ones * tag;                                 /* matching bytes become 0 */
        uint64_t zero = ~(((x & lo7) + lo7) | x | lo7);  /* 0x80 in exactly the zero bytes */
        mask |= (((zero >> 7) * 0x0102040810204080ULL) >> 56) << (8 * w);
    }
    return mask;
}

static inline jade_rl_entry_t *find(const slot_t *s, jade_rl_key_t key, uint32_t *index) {
    uint64_t m = tag_matches(s->stripe->tags, s->tag) & s->valid;
    while (m) {
        uint32_t i = (uint32_t)__builtin_ctzll(m);
        jade_rl_entry_t *e = s->base + i;
        if (e->key == key.primary && e->check == key.check) {
            if (index) *index = i;
            return e;
        }
        m &= m - 1;
    }
    return NULL;
}

/* ---- bucket arithmetic ---- */

static inline uint64_t sat_add(uint64_t a, uint64_t b) { return a > NS_NEVER - b ? NS_NEVER : a + b; }

/// Nanoseconds for `tokens` tokens to accrue at `rate`, rounded so that after that time the
/// bucket passes the tolerant comparison (deficits within half the tolerance are already met).
static inline uint64_t ns_for(double tokens, double rate) {
    double ns = ceil((tokens - JADE_RL_TOLERANCE / 2) * 1e9 / rate);
    if (!(ns > 0)) return 0;
    return ns < (double)NS_NEVER ? (uint64_t)ns : NS_NEVER;
}

/// The time the bucket's tokens are counted from: the later of its refill time and `now`.
static inline uint64_t anchor_of(const jade_rl_entry_t *e, uint64_t now) {
    uint64_t r = e->refill_ns;
    return (r > now && r - now <= MAX_SKEW_NS) ? r : now;
}

/// Tokens of the bucket at its anchor, refilled and clamped to 0 ... burst.
static inline double tokens_at(const jade_rl_entry_t *e, uint64_t now, double rate, double burst) {
    double tokens = e->tokens;
    if (!(tokens > 0)) tokens = 0; /* also NaN from a torn write */
    if (now > e->refill_ns) tokens += (double)(now - e->refill_ns) * 1e-9 * rate;
    if (!(tokens < burst - JADE_RL_TOLERANCE)) tokens = burst;
    return tokens;
}

/// Decides a take of `cost` from a bucket holding `tokens` at `anchor`; fills `out`. Returns
/// the tokens left.
static inline double decide(double tokens, uint64_t anchor, uint64_t now, double rate, double burst, double cost,
                            jade_rl_result_t *out) {
    int allowed = tokens >= cost - JADE_RL_TOLERANCE;
    if (allowed) tokens = tokens > cost ? tokens - cost : 0;
    uint64_t ahead = anchor - now;
    out->allowed = allowed;
    out->remaining = tokens;
    out->retry_after_ns = allowed ? 0 : sat_add(ahead, ns_for(cost - tokens, rate));
    out->reset_ns = tokens >= burst ? 0 : sat_add(ahead, ns_for(burst - tokens, rate));
    return tokens;
}

static inline int valid(double rate, double burst, double cost) {
    return isfinite(rate) && rate > 0 && isfinite(burst) && burst > 0 && isfinite(cost) && cost >= 0 &&
           cost <= burst;
}

/// The decision when there is no bucket to use (stripe full of live buckets, or lock failure).
static void by_policy(jade_rl_table_t *t, uint32_t policy, double burst, double cost, uint64_t retry_ns,
                      jade_rl_result_t *out) {
    if (policy == JADE_RL_POLICY_TABLE) policy = __atomic_load_n(&t->policy, __ATOMIC_RELAXED);
    if (policy == JADE_RL_FAIL_CLOSED) {
        out->allowed = 0;
        out->remaining = 0;
        out->retry_after_ns = retry_ns ? retry_ns : 1;
        out->reset_ns = out->retry_after_ns;
    } else {
        count(&t->fail_open_allowed, 1);
        out->allowed = 1;
        out->remaining = burst - cost;
        out->retry_after_ns = 0;
        out->reset_ns = 0;
    }
}

/* ---- public operations ---- */

/* An entry's last use and class share one word: the class in the top two bits. Monotonic
   nanoseconds stay below 2^62 for 146 years of uptime. */
#define USE_MASK ((1ULL << 62) - 1)
static inline uint64_t last_use(const jade_rl_entry_t *e) { return e->last_use_ns & USE_MASK; }
static inline uint32_t class_of(const jade_rl_entry_t *e) { return (uint32_t)(e->last_use_ns >> 62); }
static inline void set_use(jade_rl_entry_t *e, uint64_t now, uint32_t klass) {
    e->last_use_ns = (now & USE_MASK) | ((uint64_t)klass << 62);
}

/* may_evict[k] bit c: a new key of class k may take the live bucket of a key of class c. A key
   takes its own class and the ones below; a pinned key (a counter that must not be lost) takes
   anonymous and address buckets but never an identity's, and no pinned bucket is ever taken. */
static const uint8_t may_evict[4] = {0x1, 0x3, 0x7, 0x3};

/// Finds room for a new key of class `klass` in a stripe without its key: a free entry, else
/// the least recently used idle one (whose bucket is full, so dropping it loses nothing), else
/// the least recently used live one of a class `klass` may take (may_evict). NULL when none
/// may be taken; *soonest then holds when the first becomes idle.
static jade_rl_entry_t *place(jade_rl_table_t *t, const slot_t *s, uint64_t now, uint32_t klass, uint32_t *index,
                              int *evicted, uint64_t *soonest) {
    uint64_t free = tag_matches(s->stripe->tags, 0) & s->valid;
    if (free) {
        *index = (uint32_t)__builtin_ctzll(free);
        *evicted = 0;
        count(&t->in_use, 1);
        return s->base + *index;
    }
    jade_rl_entry_t *idle = NULL, *live = NULL;
    uint32_t live_index = 0;
    uint64_t first_idle = NS_NEVER;
    for (uint32_t i = 0; i < s->count; i++) {
        jade_rl_entry_t *e = s->base + i;
        if (e->full_ns <= now) {
            if (!idle || last_use(e) < last_use(idle)) {
                idle = e;
                *index = i;
            }
        } else {
            if (e->full_ns < first_idle) first_idle = e->full_ns;
            if ((may_evict[klass] >> class_of(e) & 1) && (!live || last_use(e) < last_use(live))) {
                live = e;
                live_index = i;
            }
        }
    }
    if (!idle && live) {
        *index = live_index;
        *evicted = 2;
        count(&t->evictions, 1);
        count(&t->live_evictions, 1);
        return live;
    }
    if (!idle) {
        *soonest = first_idle;
        return NULL;
    }
    *evicted = 1;
    count(&t->evictions, 1);
    return idle;
}

int jade_rl_take(jade_rl_table_t *t, jade_rl_key_t key, uint64_t now, double rate, double burst, double cost,
                 uint32_t policy, jade_rl_result_t *out) {
    return jade_rl_take_class(t, key, now, rate, burst, cost, policy, JADE_RL_CLASS_PINNED, out);
}

int jade_rl_take_class(jade_rl_table_t *t, jade_rl_key_t key, uint64_t now, double rate, double burst, double cost,
                       uint32_t policy, uint32_t klass, jade_rl_result_t *out) {
    if (!valid(rate, burst, cost) || klass > JADE_RL_CLASS_PINNED) return -EINVAL;
    slot_t s = slot_of(t, key);
    out->flags = 0;
    if (lock_stripe(t, s.stripe, &out->flags) != 0) {
        by_policy(t, policy, burst, cost, 1000000000ULL, out);
        return 0;
    }
    jade_rl_entry_t *e = find(&s, key, NULL);
    if (!e) {
        uint32_t i = 0;
        int evicted = 0;
        uint64_t soonest = NS_NEVER;
        e = place(t, &s, now, klass, &i, &evicted, &soonest);
        if (!e) {
            pthread_mutex_unlock(&s.stripe->mutex);
            count(&t->table_full, 1);
            out->flags |= JADE_RL_FLAG_TABLE_FULL;
            by_policy(t, policy, burst, cost, soonest > now ? soonest - now : 1, out);
            return 0;
        }
        out->flags |= JADE_RL_FLAG_NEW | (evicted ? JADE_RL_FLAG_EVICTED : 0) |
                      (evicted == 2 ? JADE_RL_FLAG_EVICTED_LIVE : 0);
        /* Free the tag first and publish it last: a writer dying half-way leaves a free entry. */
        s.stripe->tags[i] = 0;
        e->key = key.primary;
        e->check = key.check;
        e->tokens = burst;
        e->refill_ns = now;
        set_use(e, now, klass);
        s.stripe->tags[i] = s.tag;
    }
    uint64_t anchor = anchor_of(e, now);
    double tokens = decide(tokens_at(e, now, rate, burst), anchor, now, rate, burst, cost, out);
    e->tokens = tokens;
    e->refill_ns = anchor;
    /* The class is the key's, set when its bucket was created: a key has one class. */
    if (now > last_use(e)) set_use(e, now, class_of(e));
    e->full_ns = sat_add(now, out->reset_ns); /* anchor + time to refill */
    e->rate = rate;
    e->burst = burst;
    pthread_mutex_unlock(&s.stripe->mutex);
    return 0;
}

int jade_rl_peek(jade_rl_table_t *t, jade_rl_key_t key, uint64_t now, double rate, double burst, double cost,
                 jade_rl_result_t *out) {
    if (!valid(rate, burst, cost)) return -EINVAL;
    slot_t s = slot_of(t, key);
    out->flags = 0;
    if (lock_stripe(t, s.stripe, &out->flags) != 0) {
        by_policy(t, JADE_RL_POLICY_TABLE, burst, cost, 1000000000ULL, out);
        return 0;
    }
    jade_rl_entry_t *e = find(&s, key, NULL);
    if (e) {
        decide(tokens_at(e, now, rate, burst), anchor_of(e, now), now, rate, burst, cost, out);
    } else {
        out->flags |= JADE_RL_FLAG_NEW;
        decide(burst, now, now, rate, burst, cost, out);
    }
    pthread_mutex_unlock(&s.stripe->mutex);
    return 0;
}

int jade_rl_refund(jade_rl_table_t *t, jade_rl_key_t key, uint64_t now, double rate, double burst, double amount) {
    if (!valid(rate, burst, amount)) return -EINVAL;
    slot_t s = slot_of(t, key);
    uint32_t flags = 0;
    int rc = lock_stripe(t, s.stripe, &flags);
    if (rc != 0) return -rc;
    jade_rl_entry_t *e = find(&s, key, NULL);
    if (e) {
        uint64_t anchor = anchor_of(e, now);
        double tokens = tokens_at(e, now, rate, burst) + amount;
        if (tokens > burst) tokens = burst;
        e->tokens = tokens;
        e->refill_ns = anchor;
        e->full_ns = tokens >= burst ? now : sat_add(anchor, ns_for(burst - tokens, rate));
    }
    pthread_mutex_unlock(&s.stripe->mutex);
    return e != NULL;
}

int jade_rl_reset(jade_rl_table_t *t, jade_rl_key_t key) {
    slot_t s = slot_of(t, key);
    uint32_t flags = 0;
    int rc = lock_stripe(t, s.stripe, &flags);
    if (rc != 0) return -rc;
    uint32_t i = 0;
    jade_rl_entry_t *e = find(&s, key, &i);
    if (e) {
        s.stripe->tags[i] = 0;
        memset(e, 0, sizeof *e);
        count(&t->in_use, -1);
    }
    pthread_mutex_unlock(&s.stripe->mutex);
    return e != NULL;
}

void jade_rl_stats(const jade_rl_table_t *t, jade_rl_stats_t *out) {
    memset(out, 0, sizeof *out);
    out->capacity = t->capacity;
    out->stripes = t->stripes;
    out->stripe_entries = t->stripe_entries;
    out->entry_size = t->entry_size;
    out->region_size = t->region_size;
    out->in_use = __atomic_load_n(&t->in_use, __ATOMIC_RELAXED);
    out->table_full = __atomic_load_n(&t->table_full, __ATOMIC_RELAXED);
    out->fail_open_allowed = __atomic_load_n(&t->fail_open_allowed, __ATOMIC_RELAXED);
    out->evictions = __atomic_load_n(&t->evictions, __ATOMIC_RELAXED);
    out->live_evictions = __atomic_load_n(&t->live_evictions, __ATOMIC_RELAXED);
    out->lock_recoveries = __atomic_load_n(&t->lock_recoveries, __ATOMIC_RELAXED);
    out->lock_failures = __atomic_load_n(&t->lock_failures, __ATOMIC_RELAXED);
    out->policy = __atomic_load_n(&t->policy, __ATOMIC_RELAXED);
}

uint64_t jade_rl_count_live(const jade_rl_table_t *t, uint64_t now) {
    const jade_rl_entry_t *e = entries(t);
    const jade_rl_stripe_t *stripes = (const jade_rl_stripe_t *)((const char *)t + t->stripes_offset);
    uint64_t live = 0;
    for (uint64_t i = 0; i < t->capacity; i++) {
        const uint8_t *tag = &stripes[i / t->stripe_entries].tags[i % t->stripe_entries];
        if (__atomic_load_n(tag, __ATOMIC_RELAXED) != 0 && __atomic_load_n(&e[i].full_ns, __ATOMIC_RELAXED) > now)
            live++;
    }
    return live;
}

void jade_rl_set_policy(jade_rl_table_t *t, uint32_t policy) {
    if (policy == JADE_RL_FAIL_OPEN || policy == JADE_RL_FAIL_CLOSED)
        __atomic_store_n(&t->policy, policy, __ATOMIC_RELAXED);
}

int jade_rl_debug_lock(jade_rl_table_t *t, jade_rl_key_t key) {
    uint32_t flags = 0;
    return lock_stripe(t, slot_of(t, key).stripe, &flags);
}

int jade_rl_debug_unlock(jade_rl_table_t *t, jade_rl_key_t key) {
    return pthread_mutex_unlock(&slot_of(t, key).stripe->mutex);
}

/* ---- a single-word bucket (GCRA) ---- */

int jade_gcra_take(uint64_t *tat, uint64_t now, double rate, double burst, jade_rl_result_t *out) {
    if (!valid(rate, burst, 1)) return -EINVAL;
    double interval_d = ceil(1e9 / rate);
    uint64_t interval = interval_d < (double)NS_NEVER ? (uint64_t)interval_d : NS_NEVER;
    if (interval == 0) interval = 1;
    double window_d = burst * (double)interval;
    uint64_t window = window_d < (double)NS_NEVER ? (uint64_t)window_d : NS_NEVER;
    out->flags = 0;
    uint64_t seen = __atomic_load_n(tat, __ATOMIC_RELAXED);
    for (;;) {
        /* A time far ahead of now (a clock from another boot cannot happen: the segment is
           per boot) is treated like the bucket's own future, as it is. */
        uint64_t start = seen > now ? seen : now;
        uint64_t next = sat_add(start, interval);
        uint64_t behind = next - now;
        if (behind > window) {
            out->allowed = 0;
            out->remaining = start - now >= window ? 0 : (double)(window - (start - now)) / (double)interval;
            if (out->remaining < 1) out->remaining = 0;
            out->retry_after_ns = behind - window;
            out->reset_ns = start - now;
            return 0;
        }
        if (__atomic_compare_exchange_n(tat, &seen, next, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            out->allowed = 1;
            out->remaining = (double)(window - behind) / (double)interval;
            out->retry_after_ns = 0;
            out->reset_ns = behind;
            return 0;
        }
    }
}
