#define _GNU_SOURCE
#include "CJadeTestSupport.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int wait_fd(int fd, short events, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int rc = poll(&p, 1, timeout_ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc == 0) return -ETIMEDOUT;
        if (rc < 0) return -errno;
        return 0;
    }
}

int jt_connect_ex(int port, const char *source, int rcvbuf, int timeout_ms) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (source) {
        struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = 0};
        if (inet_pton(AF_INET, source, &s.sin_addr) != 1) { close(fd); return -EINVAL; }
        if (bind(fd, (struct sockaddr *)&s, sizeof s) != 0) { int e = errno; close(fd); return -e; }
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (errno != EINPROGRESS) { int e = errno; close(fd); return -e; }
        int rc = wait_fd(fd, POLLOUT, timeout_ms);
        if (rc != 0) { close(fd); return rc; }
        int err = 0; socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) { close(fd); return -err; }
    }
    return fd;
}

int jt_connect(int port, int timeout_ms) { return jt_connect_ex(port, NULL, 0, timeout_ms); }

long jt_send_some(int fd, const void *data, size_t len, int timeout_ms) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                int rc = wait_fd(fd, POLLOUT, timeout_ms);
                if (rc == -ETIMEDOUT) break;
                if (rc) return off ? (long)off : rc;
                continue;
            }
            return off ? (long)off : -errno;
        }
        off += (size_t)n;
    }
    return (long)off;
}

int jt_send_all(int fd, const void *data, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { int rc = wait_fd(fd, POLLOUT, 10000); if (rc) return rc; continue; }
            return -errno;
        }
        off += (size_t)n;
    }
    return 0;
}

long jt_recv(int fd, void *buf, size_t len, int timeout_ms) {
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return -errno;
        int rc = wait_fd(fd, POLLIN, timeout_ms);
        if (rc) return rc;
    }
}

int jt_listen_any(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0) { close(fd); return -1; }
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

int jt_free_port(void) {
    int port = 0;
    int fd = jt_listen_any(&port);
    if (fd >= 0) close(fd);
    return port;
}

int jt_notify_open(const char *path) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) { int e = errno; close(fd); return -e; }
    return fd;
}

long jt_notify_recv(int fd, char *buf, size_t len, int timeout_ms, pid_t *sender) {
    int rc = wait_fd(fd, POLLIN, timeout_ms);
    if (rc) return rc;
    struct iovec iov = {.iov_base = buf, .iov_len = len - 1};
    char control[CMSG_SPACE(sizeof(struct ucred))];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) return -errno;
    buf[n] = 0;
    *sender = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            *sender = cred.pid;
        }
    }
    return n;
}
