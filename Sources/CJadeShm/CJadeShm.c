#define _GNU_SOURCE
#include <malloc.h>
#include "CJadeShm.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

size_t jade_shm_segment_size(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t raw = sizeof(jade_shm_segment_t);
    return (raw + page - 1) / page * page;
}

uint64_t jade_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

size_t jade_metrics_region_size(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t raw = (size_t)(JADE_MAX_RECORDS + 1) * JADE_METRICS_CAPACITY * sizeof(uint64_t);
    return (raw + page - 1) / page * page;
}

static size_t ratelimit_end(uint64_t ratelimit_capacity) {
    size_t size = jade_shm_segment_size();
    if (ratelimit_capacity > 0) size += jade_rl_region_size(ratelimit_capacity);
    return size;
}

size_t jade_shm_total_size(uint64_t ratelimit_capacity) {
    return ratelimit_end(ratelimit_capacity) + jade_metrics_region_size();
}

int jade_metrics_register_layout(jade_shm_segment_t *s, uint32_t index, uint64_t layout, uint64_t used) {
    uint64_t expected = 0;
    if (used > s->header.metrics_capacity ||
        (!__atomic_compare_exchange_n(&s->header.metrics_layout, &expected, layout, false, __ATOMIC_ACQ_REL,
                                      __ATOMIC_ACQUIRE) &&
         expected != layout)) {
        __atomic_store_n(&s->records[index].metrics_excluded, 1, __ATOMIC_RELEASE);
        return -1;
    }
    __atomic_store_n(&s->records[index].metrics_excluded, 0, __ATOMIC_RELEASE);
    uint64_t cur = __atomic_load_n(&s->header.metrics_used, __ATOMIC_ACQUIRE);
    while (cur < used &&
           !__atomic_compare_exchange_n(&s->header.metrics_used, &cur, used, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    return 0;
}

void jade_metrics_fold(jade_shm_segment_t *s, uint32_t index) {
    uint64_t used = __atomic_load_n(&s->header.metrics_used, __ATOMIC_ACQUIRE);
    uint64_t *rec = jade_metrics_block(s, index);
    uint64_t *retired = jade_metrics_block(s, JADE_METRICS_RETIRED);
    int excluded = __atomic_load_n(&s->records[index].metrics_excluded, __ATOMIC_ACQUIRE) != 0;
    __atomic_add_fetch(&s->header.metrics_fold_seq, 1, __ATOMIC_SEQ_CST); /* odd: folding */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (uint64_t i = 0; i < used; i++) {
        uint64_t v = __atomic_load_n(&rec[i], __ATOMIC_RELAXED);
        if (v == 0) continue;
        if (!excluded) __atomic_add_fetch(&retired[i], v, __ATOMIC_RELAXED);
        __atomic_store_n(&rec[i], 0, __ATOMIC_RELAXED);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    __atomic_add_fetch(&s->header.metrics_fold_seq, 1, __ATOMIC_SEQ_CST); /* even: done */
}

int jade_metrics_snapshot(jade_shm_segment_t *s, uint64_t *out, uint64_t count) {
    if (count > s->header.metrics_capacity) count = s->header.metrics_capacity;
    int attempts = 0;
    for (;;) {
        attempts++;
        uint64_t seq = __atomic_load_n(&s->header.metrics_fold_seq, __ATOMIC_ACQUIRE);
        if ((seq & 1) && attempts < 1000) {
            sched_yield();
            continue;
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        const uint64_t *retired = jade_metrics_block(s, JADE_METRICS_RETIRED);
        for (uint64_t i = 0; i < count; i++) out[i] = __atomic_load_n(&retired[i], __ATOMIC_RELAXED);
        for (uint32_t r = 0; r < JADE_MAX_RECORDS; r++) {
            if (__atomic_load_n(&s->records[r].state, __ATOMIC_ACQUIRE) == JADE_WORKER_FREE ||
                __atomic_load_n(&s->records[r].metrics_excluded, __ATOMIC_ACQUIRE))
                continue;
            const uint64_t *b = jade_metrics_block(s, r);
            for (uint64_t i = 0; i < count; i++) out[i] += __atomic_load_n(&b[i], __ATOMIC_RELAXED);
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        /* A master that died mid-fold leaves the seqlock odd: give up waiting after 1000 tries. */
        if (__atomic_load_n(&s->header.metrics_fold_seq, __ATOMIC_ACQUIRE) == seq || attempts >= 1000)
            return attempts;
    }
}

static int random_seed(uint64_t seed[2]) {
    size_t off = 0;
    while (off < 16) {
        ssize_t n = getrandom((char *)seed + off, 16 - off, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

int jade_shm_create_with_ratelimit(uint64_t ratelimit_capacity, uint32_t policy, jade_shm_segment_t **out) {
    size_t base = jade_shm_segment_size();
    size_t rl_end = ratelimit_end(ratelimit_capacity);
    size_t size = jade_shm_total_size(ratelimit_capacity);
    uint64_t seed[2];
    if (ratelimit_capacity > 0 && random_seed(seed) != 0) return -1;
    int fd = memfd_create("jadevectordb-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { int e = errno; close(fd); errno = e; return -1; }
    /* A fresh memfd reads as zeros: only the header is written, so the pages of an unused
       rate-limit table are never allocated. */
    jade_shm_segment_t *s = (jade_shm_segment_t *)p;
    s->header.version = JADE_SHM_VERSION;
    s->header.record_count = JADE_MAX_RECORDS;
    s->header.segment_size = size;
    s->header.master_pid = getpid();
    s->header.master_started_ns = jade_monotonic_ns();
    jade_breaker_init(&s->breakers[0]);
    jade_breaker_init(&s->breakers[1]);
    if (ratelimit_capacity > 0) {
        int rc = jade_rl_init((char *)p + base, rl_end - base, ratelimit_capacity, policy, seed);
        if (rc != 0) { munmap(p, size); close(fd); errno = rc; return -1; }
        s->header.ratelimit_offset = base;
        s->header.ratelimit_size = rl_end - base;
    }
    s->header.metrics_offset = rl_end;
    s->header.metrics_capacity = JADE_METRICS_CAPACITY;
    __atomic_store_n(&s->header.magic, JADE_SHM_MAGIC, __ATOMIC_RELEASE);
    *out = s;
    return fd;
}

int jade_shm_create(jade_shm_segment_t **out) {
    return jade_shm_create_with_ratelimit(JADE_RL_DEFAULT_CAPACITY, JADE_RL_FAIL_OPEN, out);
}

int jade_shm_attach(int fd, jade_shm_segment_t **out) {
    size_t base = jade_shm_segment_size();
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    if (st.st_size < (off_t)base) { errno = EPROTO; return -1; }
    /* Map the fixed part, validate the header, then map the whole segment it describes. */
    void *p = mmap(NULL, base, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -1;
    const jade_shm_header_t *h = (const jade_shm_header_t *)p;
    uint64_t size = h->segment_size;
    uint64_t rl_off = h->ratelimit_offset, rl_size = h->ratelimit_size;
    uint64_t m_off = h->metrics_offset;
    int ok = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == JADE_SHM_MAGIC && h->version == JADE_SHM_VERSION &&
             size >= base && size <= (uint64_t)st.st_size &&
             (rl_off == 0 ? rl_size == 0 : rl_off >= base && rl_size <= size - rl_off) &&
             h->metrics_capacity == JADE_METRICS_CAPACITY && m_off >= base &&
             m_off + jade_metrics_region_size() <= size;
    munmap(p, base);
    if (!ok) { errno = EPROTO; return -1; }
    p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -1;
    jade_shm_segment_t *s = (jade_shm_segment_t *)p;
    if (rl_off != 0 && jade_rl_open((char *)p + rl_off, (size_t)rl_size) == NULL) {
        munmap(p, (size_t)size);
        errno = EPROTO;
        return -1;
    }
    *out = s;
    return 0;
}

jade_rl_table_t *jade_shm_ratelimit(jade_shm_segment_t *s) {
    uint64_t off = s->header.ratelimit_offset;
    return off ? (jade_rl_table_t *)((char *)s + off) : NULL;
}

int jade_spawn(const char *path, char *const argv[], char *const envp[], const int *src_fds,
               const int *dst_fds, int nfds, pid_t *pid_out) {
    int high[16];
    if (nfds > 16) return EINVAL;
    int maxdst = 2;
    /* Move every source above the targets first, so that mapping one descriptor cannot clobber
       the source of another (e.g. src 4 -> 3 while src 3 -> 4). */
    for (int i = 0; i < nfds; i++) {
        high[i] = fcntl(src_fds[i], F_DUPFD_CLOEXEC, 100);
        if (high[i] < 0) {
            int e = errno;
            for (int j = 0; j < i; j++) close(high[j]);
            return e;
        }
        if (dst_fds[i] > maxdst) maxdst = dst_fds[i];
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    for (int i = 0; i < nfds; i++) posix_spawn_file_actions_adddup2(&fa, high[i], dst_fds[i]);
    posix_spawn_file_actions_addclosefrom_np(&fa, maxdst + 1);
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(pid_out, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (int i = 0; i < nfds; i++) close(high[i]);
    return rc;
}

int jade_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

static int resolve(const char *host, int port, struct addrinfo **res) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, res);
    if (rc != 0) { errno = EADDRNOTAVAIL; return -1; }
    return 0;
}

static int bound_socket(const char *host, int port, int reuseport) {
    struct addrinfo *res;
    if (resolve(host, port, &res) != 0) return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) { int e = errno; freeaddrinfo(res); errno = e; return -1; }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        int e = errno; freeaddrinfo(res); close(fd); errno = e; return -1;
    }
    freeaddrinfo(res);
    return fd;
}

int jade_listen_reuseport(const char *host, int port, int backlog) {
    int fd = bound_socket(host, port, 1);
    if (fd < 0) return -1;
    if (listen(fd, backlog) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

int jade_socket_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

int jade_probe_port(const char *host, int port) {
    int fd = bound_socket(host, port, 0);
    if (fd < 0) return -1;
    int p = jade_socket_port(fd);
    close(fd);
    return p;
}

int jade_is_listening_socket(int fd) {
    int val = 0;
    socklen_t len = sizeof val;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) != 0) return 0;
    int type = 0;
    len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return 0;
    return val && type == SOCK_STREAM;
}

int jade_accept_nonblocking(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

int jade_is_network_filesystem(const char *path) {
    struct statfs st;
    if (statfs(path, &st) != 0) return -1;
    switch ((unsigned long)st.f_type) {
    case 0x6969:      /* NFS */
    case 0x517B:      /* SMB */
    case 0xFF534D42:  /* CIFS */
    case 0xFE534D42:  /* SMB2 */
    case 0x01021997:  /* 9P / v9fs */
    case 0x564c:      /* NCP */
    case 0x6B414653:  /* AFS */
    case 0x00C36400:  /* Ceph */
    case 0x47504653:  /* GPFS */
    case 0x0BD00BD0:  /* Lustre */
        return 1;
    default:
        return 0;
    }
}

int jade_memfd_with_contents(const char *name, const void *data, size_t size) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, (const char *)data + off, size - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno; close(fd); errno = e; return -1;
        }
        off += (size_t)n;
    }
    return fd;
}

int jade_memfd_zeroed(const char *name, size_t size) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

void jade_tune_malloc(void) {
    /* A fixed threshold turns off glibc's dynamic one, which after the first large free keeps
       every later large block (response bodies of hundreds of KiB) in the heap, where freed
       space is seldom given back: large blocks are mapped and unmapped instead. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    /* One arena per thread pool thread and event loop is enough; more only fragment. */
    mallopt(M_ARENA_MAX, 4);
}

void jade_set_process_title(const char *comm, const char *title) {
    prctl(PR_SET_NAME, comm, 0, 0, 0);
    /* argv's strings lie end to end from argv[0] (program_invocation_name); their total length
       is the size of /proc/self/cmdline. The title goes there, the rest is zeroed. */
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    size_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) total += (size_t)n;
    close(fd);
    char *area = program_invocation_name;
    if (area == NULL || total < 2) return;
    size_t len = strlen(title);
    if (len > total - 1) len = total - 1;
    memset(area, 0, total);
    memcpy(area, title, len);
}

int jade_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
