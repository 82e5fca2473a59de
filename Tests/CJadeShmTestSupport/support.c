#define _GNU_SOURCE
#include "CJadeShmTestSupport.h"

#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    int ready;
    int go;
    long allowed[];
} shared_t;

static int wait_child(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return errno;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EIO;
}

/// What one child does per attempt: one decision, 1 when allowed, -1 on an error.
typedef struct {
    jade_rl_table_t *table;
    const jade_rl_key_t *keys;
    int nkeys;
    uint64_t *word;
    double rate;
    double burst;
} take_args_t;

static int take_from_table(const take_args_t *a, int child, int attempt, uint64_t now) {
    jade_rl_result_t r;
    if (jade_rl_take(a->table, a->keys[(child + attempt) % a->nkeys], now, a->rate, a->burst, 1, 0, &r) != 0) {
        return -1;
    }
    return r.allowed;
}

static int take_from_word(const take_args_t *a, int child, int attempt, uint64_t now) {
    (void)child;
    (void)attempt;
    jade_rl_result_t r;
    return jade_gcra_take(a->word, now, a->rate, a->burst, &r) != 0 ? -1 : r.allowed;
}

/// Forks `children` processes that start together and each make `attempts` decisions with
/// `take`; sums what they allowed.
static int hammer(int (*take)(const take_args_t *, int, int, uint64_t), const take_args_t *args, int children,
                  int attempts, uint64_t now_ns, jrl_hammer_result_t *out) {
    if (children < 1 || children > 64) return EINVAL;
    size_t size = sizeof(shared_t) + (size_t)children * sizeof(long);
    shared_t *sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return errno;
    pid_t pids[64];
    int started = 0, rc = 0;
    for (; started < children; started++) {
        pid_t pid = fork();
        if (pid < 0) { rc = errno; break; }
        if (pid == 0) {
            __atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
            while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE)) sched_yield();
            long allowed = 0;
            for (int i = 0; i < attempts; i++) {
                int r = take(args, started, i, now_ns ? now_ns : jade_monotonic_ns());
                if (r < 0) _exit(2);
                allowed += r;
            }
            sh->allowed[started] = allowed;
            _exit(0);
        }
        pids[started] = pid;
    }
    while (rc == 0 && __atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) < children) sched_yield();
    uint64_t start = jade_monotonic_ns();
    __atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < started; i++) {
        int e = wait_child(pids[i]);
        if (e && !rc) rc = e;
    }
    out->elapsed_ns = jade_monotonic_ns() - start;
    out->allowed = 0;
    out->attempts = (long)children * attempts;
    for (int i = 0; i < started; i++) out->allowed += sh->allowed[i];
    munmap(sh, size);
    return rc;
}

int jrl_hammer(jade_rl_table_t *t, const jade_rl_key_t *keys, int nkeys, int children, int attempts,
               uint64_t now_ns, double rate, double burst, jrl_hammer_result_t *out) {
    if (nkeys < 1) return EINVAL;
    take_args_t args = {t, keys, nkeys, NULL, rate, burst};
    return hammer(take_from_table, &args, children, attempts, now_ns, out);
}

int jrl_hammer_gcra(uint64_t *word, int children, int attempts, uint64_t now_ns, double rate, double burst,
                    jrl_hammer_result_t *out) {
    take_args_t args = {NULL, NULL, 0, word, rate, burst};
    return hammer(take_from_word, &args, children, attempts, now_ns, out);
}

int jrl_die_holding_lock(jade_rl_table_t *t, jade_rl_key_t key) {
    pid_t pid = fork();
    if (pid < 0) return errno;
    if (pid == 0) _exit(jade_rl_debug_lock(t, key) == 0 ? 0 : 1);
    return wait_child(pid);
}
