// Socket helpers for the integration tests: TCP with timeouts, and a systemd notify socket
// receiver that reports the sender's pid (SCM_CREDENTIALS).
#ifndef CJADETESTSUPPORT_H
#define CJADETESTSUPPORT_H
#include <stddef.h>
#include <sys/types.h>

/// Connects to 127.0.0.1:port. Returns the fd, or -errno.
int jt_connect(int port, int timeout_ms);
/// Connects to 127.0.0.1:port from `source` (a loopback address such as "127.0.3.7", or NULL
/// for any) with a receive buffer of `rcvbuf` bytes (0: the system's). Returns the fd, or -errno.
int jt_connect_ex(int port, const char *source, int rcvbuf, int timeout_ms);
/// Sends as much of `data` as the peer accepts within `timeout_ms` (never blocks longer).
/// Returns the bytes sent, or -errno when nothing could be sent and the connection failed.
long jt_send_some(int fd, const void *data, size_t len, int timeout_ms);
/// Sends everything; 0 or -errno.
int jt_send_all(int fd, const void *data, size_t len);
/// Receives up to len bytes. Returns bytes (0 at EOF), -ETIMEDOUT on timeout, or -errno.
long jt_recv(int fd, void *buf, size_t len, int timeout_ms);
/// A listening socket on 127.0.0.1 with an ephemeral port (to occupy a port); returns fd.
int jt_listen_any(int *port);
/// A free port on 127.0.0.1 (bound, then released).
int jt_free_port(void);

/// Binds a datagram unix socket at path with SO_PASSCRED. Returns fd or -errno.
int jt_notify_open(const char *path);
/// Receives one datagram (NUL-terminated into buf). Returns its length, -ETIMEDOUT, or -errno;
/// *sender gets the sending pid (0 if unknown).
long jt_notify_recv(int fd, char *buf, size_t len, int timeout_ms, pid_t *sender);
#endif
