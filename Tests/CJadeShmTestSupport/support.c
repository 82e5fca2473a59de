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

int jrl_hammer(jade_rl_table_t *t, const jade_rl_key_t *keys, int nkeys, int children, int attempts,
               uint64_t now_ns, double rate, double burst, jrl_hammer_result_t *out) {
    if (children < 1 || children > 64 || nkeys < 1) return EINVAL;
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
                jade_rl_result_t r;
                uint64_t now = now_ns ? now_ns : jade_monotonic_ns();
                if (jade_rl_take(t, keys[(started + i) % nkeys], now, rate, burst, 1, 0, &r) != 0) _exit(2);
                allowed += r.allowed;
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

int jrl_hammer_gcra(uint64_t *word, int children, int attempts, uint64_t now_ns, double rate, double burst,
                    jrl_hammer_result_t *out) {
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
                jade_rl_result_t r;
                uint64_t now = now_ns ? now_ns : jade_monotonic_ns();
                if (jade_gcra_take(word, now, rate, burst, &r) != 0) _exit(2);
                allowed += r.allowed;
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

int jrl_die_holding_lock(jade_rl_table_t *t, jade_rl_key_t key) {
    pid_t pid = fork();
    if (pid < 0) return errno;
    if (pid == 0) _exit(jade_rl_debug_lock(t, key) == 0 ? 0 : 1);
    return wait_child(pid);
}
