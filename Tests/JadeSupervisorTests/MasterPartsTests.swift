import Foundation
import JadeConfig
import Synchronization
import Testing

@testable import JadeSupervisor

#if canImport(Glibc)
    import Glibc
#endif

/// The master's parts that need no running server: the workers' environment and configuration
/// hand-over, the reload's pinning of restart-only keys, the maintenance queue, the sockets and
/// the systemd notifications.
@Suite(.serialized) struct MasterPartsTests {
    static func resolved(_ environment: [String: String] = [:]) throws -> ResolvedConfig {
        let dir = NSTemporaryDirectory() + "jademaster-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "{}".write(toFile: dir + "/development.json", atomically: true, encoding: .utf8)
        var env = ["JADEVECTORDB_CONFIG_DIR": dir]
        for (k, v) in environment { env[k] = v }
        return try ConfigLoader.load(environment: env)
    }

    @Test func workersGetNeitherTheConfigurationNorSystemdsVariables() {
        let env = Arbiter.workerEnvironment([
            "PATH": "/usr/bin", "NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1", "LISTEN_FDS": "2",
            "JADEVECTORDB_ADMIN_PASSWORD": "secret", "JADEVECTORDB_PORT": "1", "HOME": "/root",
        ])
        #expect(env == ["HOME=/root", "PATH=/usr/bin", "SWIFT_BACKTRACE=enable=no"])
        #expect(Arbiter.workerEnvironment(["SWIFT_BACKTRACE": "enable=yes"]) == ["SWIFT_BACKTRACE=enable=yes"])
    }

    @Test func theConfigurationReachesWorkersWholeThroughAMemfd() throws {
        let config = try Self.resolved([
            "JADEVECTORDB_ADMIN_PASSWORD": "a secret password", "JADEVECTORDB_SERVER_TRUSTED_PROXIES": "10.0.0.0/8",
            "JADEVECTORDB_CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD": "0.25",
        ])
        let fd = try Arbiter.configMemfd(config)
        defer { close(fd) }
        // Read twice: each worker reads from offset 0 without moving a shared position.
        for _ in 0..<2 {
            let back = try #require(Arbiter.readConfig(fd: fd))
            #expect(back.values == config.values)
            #expect(back.environment == config.environment)
        }
    }

    @Test func aReloadKeepsTheRunningValuesOfRestartOnlyKeysAndTakesTheRest() throws {
        let running = try Self.resolved(["JADEVECTORDB_PORT": "8123", "JADEVECTORDB_SERVER_BACKLOG": "64"])
        let next = try Self.resolved([
            "JADEVECTORDB_PORT": "9000", "JADEVECTORDB_SERVER_BACKLOG": "128",
            "JADEVECTORDB_SERVER_MAX_CONNECTIONS": "77",
        ])
        let pinned = Arbiter.pinned(next, running: running)
        #expect(pinned.int("server.port") == 8123)
        #expect(pinned.int("server.backlog") == 64)
        #expect(pinned.int("server.max_connections") == 77)
        for key in ConfigSchema.restartOnlyKeys { #expect(pinned.values[key] == running.values[key], "\(key)") }
    }

    @Test func exitStatusesAreDescribed() {
        #expect(Arbiter.describe(status: 3 << 8) == "exit 3")
        #expect(Arbiter.describe(status: SIGKILL) == "signal 9")
    }

    @Test func aDutyIsNotQueuedAgainWhileItsLastRunIsUnfinished() {
        let queue = MaintenanceQueue()
        let runs = Mutex<[String]>([])
        let release = DispatchSemaphore(value: 0)
        queue.run("checkpoint") {
            release.wait()
            runs.withLock { $0.append("checkpoint") }
        }
        // Skipped: the first checkpoint still runs. Another duty queues behind it.
        queue.run("checkpoint") { runs.withLock { $0.append("checkpoint again") } }
        queue.run("purge") { runs.withLock { $0.append("purge") } }
        release.signal()
        queue.drain()
        #expect(runs.withLock { $0 } == ["checkpoint", "purge"])
        queue.run("checkpoint") { runs.withLock { $0.append("checkpoint later") } }
        queue.drain()
        #expect(runs.withLock { $0 }.last == "checkpoint later")
    }

    @Test func slotSocketsShareOnePortAndGrowAndShrink() throws {
        let sockets = try ListeningSockets.bind(host: "127.0.0.1", port: 0, count: 2, backlog: 16)
        defer { sockets.closeAll() }
        #expect(sockets.port > 0)
        #expect(sockets.descriptors.count == 2)
        try sockets.ensure(count: 3)
        #expect(sockets.descriptors.count == 3)
        for slot in 0..<3 {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = sockets.descriptor(forSlot: slot)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            #expect(named == 0)
            #expect(Int(UInt16(bigEndian: address.sin_port)) == sockets.port)
        }
        sockets.closeSlots(from: 1)
        #expect(fcntl(sockets.descriptors[0], F_GETFD) >= 0)
        // A second bind of the same port by another server is refused with a clear message.
        #expect(throws: ListenError.self) {
            try ListeningSockets.bind(host: "127.0.0.1", port: sockets.port, count: 1, backlog: 16)
        }
    }

    @Test func notificationsReachTheNotifySocket() throws {
        let path = NSTemporaryDirectory() + "jade-notify-" + UUID().uuidString
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer {
            close(fd)
            unlink(path)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8) + [0])
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        func receive() -> String {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        }
        let notifier = SystemdNotifier()
        notifier.ready(status: "serving\nwith a newline")
        #expect(receive() == "READY=1\nSTATUS=serving with a newline\nMAINPID=\(getpid())")
        notifier.reloading(status: "reloading")
        let reloading = receive().split(separator: "\n")
        #expect(reloading.first == "RELOADING=1")
        #expect(
            reloading.count == 3 && reloading[1].hasPrefix("MONOTONIC_USEC=")
                && UInt64(reloading[1].dropFirst(15)) != nil)
        notifier.stopping(status: "draining")
        #expect(receive() == "STOPPING=1\nSTATUS=draining")
        notifier.watchdog()
        #expect(receive() == "WATCHDOG=1")
    }
}
