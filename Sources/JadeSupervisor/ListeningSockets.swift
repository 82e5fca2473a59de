import CJadeShm
import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Failure to obtain the listening sockets.
public struct ListenError: Error, CustomStringConvertible {
    public let description: String
}

/// The listening sockets, one per worker slot. The master creates them (SO_REUSEPORT on one
/// port) or takes them from systemd socket activation, and keeps every one open for its whole
/// life, so a reload never closes a socket that holds queued connections.
public final class ListeningSockets {
    public private(set) var descriptors: [Int32]
    public let host: String
    public let port: Int
    public let backlog: Int
    /// True when the sockets came from systemd (LISTEN_FDS); they cannot be multiplied.
    public let activated: Bool

    private init(descriptors: [Int32], host: String, port: Int, backlog: Int, activated: Bool) {
        self.descriptors = descriptors
        self.host = host
        self.port = port
        self.backlog = backlog
        self.activated = activated
    }

    /// Takes sockets passed by systemd, if any (LISTEN_FDS for this pid).
    public static func fromSocketActivation() throws -> ListeningSockets? {
        let count = sd_listen_fds(1)
        guard count > 0 else { return nil }
        var fds: [Int32] = []
        for i in 0..<count {
            let fd = SD_LISTEN_FDS_START + i
            guard jade_is_listening_socket(fd) == 1 else {
                throw ListenError(description: "socket activation: fd \(fd) is not a listening TCP socket")
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            fds.append(fd)
        }
        let port = Int(jade_socket_port(fds[0]))
        return ListeningSockets(descriptors: fds, host: "(systemd)", port: port, backlog: 0, activated: true)
    }

    /// Binds `count` SO_REUSEPORT sockets on host:port. The port is first probed with a plain
    /// socket, so a port that anybody else holds (even with SO_REUSEPORT) is reported as in use.
    public static func bind(host: String, port: Int, count: Int, backlog: Int) throws -> ListeningSockets {
        let probed = jade_probe_port(host, Int32(port))
        guard probed > 0 else {
            let reason = errno == EADDRINUSE ? "address already in use" : String(cString: strerror(errno))
            throw ListenError(description: "cannot listen on \(host):\(port): \(reason)")
        }
        let sockets = ListeningSockets(
            descriptors: [], host: host, port: Int(probed), backlog: backlog, activated: false)
        try sockets.ensure(count: count)
        return sockets
    }

    /// Makes sure at least `count` slots have a socket (reload with more workers).
    public func ensure(count: Int) throws {
        if activated { return }
        while descriptors.count < count {
            let fd = jade_listen_reuseport(host, Int32(port), Int32(backlog))
            guard fd >= 0 else {
                throw ListenError(description: "cannot listen on \(host):\(port): \(String(cString: strerror(errno)))")
            }
            descriptors.append(fd)
        }
    }

    /// The socket of slot `slot` (activated sockets are shared round-robin).
    public func descriptor(forSlot slot: Int) -> Int32 {
        descriptors[slot % descriptors.count]
    }

    /// Closes slot sockets from `count` on (after their workers were told to drain them).
    public func closeSlots(from count: Int) {
        guard !activated, count < descriptors.count else { return }
        for fd in descriptors[count...] { close(fd) }
        descriptors.removeSubrange(count...)
    }

    /// Closes every socket (stop).
    public func closeAll() {
        for fd in descriptors { close(fd) }
        descriptors = []
    }
}
