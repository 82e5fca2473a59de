import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Master/worker lifecycle: readiness, watchdog, restarts, reload and stop.
    @Suite struct Lifecycle {
        @Test func readyIsSentByTheMasterOnlyOnceHealthAnswers() throws {
            let dir = TemporaryDirectory()
            let notify = try NotifySocket(directory: dir.path)
            let server = try ServerProcess(workers: 2, notify: notify, directory: dir)
            let ready = try notify.wait(timeout: 20) { $0.assignments["READY"] == "1" }
            // The moment READY=1 arrives, /health must already answer.
            let reply = try httpRequest(port: server.port, "GET", "/health")
            #expect(reply.status == 200)
            #expect(ready.sender == server.pid)
            #expect(ready.assignments["MAINPID"] == String(server.pid))
            #expect(ready.assignments["STATUS"]?.contains("serving") == true)
            #expect(notify.messages.allSatisfy { $0.sender == server.pid })
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func watchdogStopsWhileAWorkerIsFrozen() throws {
            let dir = TemporaryDirectory()
            let notify = try NotifySocket(directory: dir.path)
            let server = try ServerProcess(
                workers: 2, environment: ["WATCHDOG_USEC": "1000000"], notify: notify, directory: dir)
            try notify.wait(timeout: 20) { $0.assignments["READY"] == "1" }
            try notify.wait(timeout: 5) { $0.assignments["WATCHDOG"] == "1" }
            let victim = try #require(server.workerPIDs().first)
            kill(victim, SIGSTOP)
            defer { kill(victim, SIGCONT) }
            // Heartbeats older than 3 s are stale: after that no WATCHDOG=1 may arrive.
            usleep(3_600_000)
            notify.drain()
            let deadline = Date().addingTimeInterval(2)
            while Date() < deadline { _ = notify.receive(timeoutMilliseconds: 100) }
            #expect(!notify.messages.contains { $0.assignments["WATCHDOG"] == "1" })
            kill(victim, SIGCONT)
            try notify.wait(timeout: 5) { $0.assignments["WATCHDOG"] == "1" }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func requestsReachEveryWorkerAndAKilledWorkerIsReplaced() throws {
            let server = try ServerProcess(workers: 3)
            try server.waitHealthy()
            #expect(try server.slotsSeen(attempts: 300) == [0, 1, 2])
            let before = Set(server.workerPIDs())
            let victim = try #require(before.first)
            kill(victim, SIGKILL)
            let deadline = Date().addingTimeInterval(15)
            var after = Set<pid_t>()
            while Date() < deadline {
                after = Set(server.workerPIDs())
                if after.count == 3 && !after.contains(victim) { break }
                usleep(50_000)
            }
            #expect(after.count == 3 && !after.contains(victim))
            try server.waitForGeneration(1)
            #expect(server.log.contains("worker died; restarting"))
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func reloadUnderLoadDropsNoRequest() throws {
            let dir = TemporaryDirectory()
            let notify = try NotifySocket(directory: dir.path)
            let server = try ServerProcess(workers: 2, notify: notify, directory: dir)
            try notify.wait(timeout: 20) { $0.assignments["READY"] == "1" }
            let load = LoadGenerator(port: server.port)
            load.start()
            usleep(500_000)
            server.signal(SIGHUP)
            try notify.wait(timeout: 20) {
                $0.assignments["RELOADING"] == "1" && $0.assignments["MONOTONIC_USEC"] != nil
            }
            let readyAgain = try notify.wait(timeout: 20) { m in
                m.assignments["READY"] == "1" && m.assignments["STATUS"]?.contains("generation 2") == true
            }
            #expect(readyAgain.sender == server.pid)
            try server.waitForGeneration(2)
            usleep(1_000_000)
            let result = load.stop()
            #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5))\n\(server.log)")
            #expect(result.successes > 50)
            #expect(result.generationsSeen.contains(1) && result.generationsSeen.contains(2))
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func reloadWithABrokenConfigKeepsTheOldWorkers() throws {
            let dir = TemporaryDirectory()
            let config = try dir.copyOfConfig()
            let notify = try NotifySocket(directory: dir.path)
            let server = try ServerProcess(workers: 2, notify: notify, directory: dir, configDirectory: config)
            try notify.wait(timeout: 20) { $0.assignments["READY"] == "1" }
            try "{ \"server\": { \"port\": \"not a number\" ".write(
                toFile: config + "/development.json", atomically: true, encoding: .utf8)
            notify.drain()
            server.signal(SIGHUP)
            let ready = try notify.wait(timeout: 10) { $0.assignments["READY"] == "1" }
            #expect(ready.assignments["STATUS"]?.contains("reload rejected") == true)
            #expect(ready.assignments["STATUS"]?.contains("development.json") == true)
            #expect(notify.messages.contains { $0.assignments["RELOADING"] == "1" })
            let reply = try httpRequest(port: server.port, "GET", "/health")
            #expect(reply.status == 200)
            #expect((reply.json?["worker"] as? [String: Any])?["generation"] as? Int == 1)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func stopFinishesTheRequestInFlightAndRefusesNewConnections() throws {
            let dir = TemporaryDirectory()
            let notify = try NotifySocket(directory: dir.path)
            let server = try ServerProcess(workers: 2, notify: notify, directory: dir)
            try notify.wait(timeout: 20) { $0.assignments["READY"] == "1" }
            let inFlight = try HTTPConnection(port: server.port)
            try inFlight.send("GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
            usleep(200_000)
            server.signal(SIGTERM)
            try notify.wait(timeout: 5) { $0.assignments["STOPPING"] == "1" }
            // New connections are refused once the workers closed their listening sockets.
            let deadline = Date().addingTimeInterval(5)
            var refused = false
            while Date() < deadline && !refused {
                if let c = try? HTTPConnection(port: server.port, timeoutMilliseconds: 500) {
                    _ = c
                    usleep(20_000)
                } else {
                    refused = true
                }
            }
            #expect(refused)
            try inFlight.send("56789")
            let reply = try inFlight.readResponse()
            #expect(reply.status == 200)
            #expect(reply.headers["connection"] == "close")
            #expect(try server.waitForExit() == 0)
        }
    }
}

/// Keeps two clients busy against /health: one opening a fresh connection per request, one on
/// keep-alive connections (reconnecting only when the server says `Connection: close`).
final class LoadGenerator: @unchecked Sendable {
    struct Result {
        var successes = 0
        var failures: [String] = []
        var generationsSeen = Set<Int>()
    }

    let port: Int
    private let lock = NSLock()
    private var running = true
    private var result = Result()
    private var threads: [Thread] = []

    init(port: Int) { self.port = port }

    private var isRunning: Bool { lock.withLock { running } }

    private func record(_ reply: HTTPReply?, error: Error?) {
        lock.withLock {
            if let reply, reply.status == 200 {
                result.successes += 1
                if let g = (reply.json?["worker"] as? [String: Any])?["generation"] as? Int {
                    result.generationsSeen.insert(g)
                }
            } else if let reply {
                result.failures.append("status \(reply.status)")
            } else {
                result.failures.append("\(Date()) \(Thread.current.name ?? "?"): \(error.map { "\($0)" } ?? "unknown")")
            }
        }
    }

    func start() {
        let fresh = Thread { [self] in
            while isRunning {
                do { record(try httpRequest(port: port, "GET", "/health"), error: nil) } catch {
                    record(nil, error: error)
                }
            }
        }
        let keepAlive = Thread { [self] in
            var connection: HTTPConnection?
            while isRunning {
                do {
                    if connection == nil { connection = try HTTPConnection(port: port) }
                    let reply = try connection!.request("GET", "/health")
                    record(reply, error: nil)
                    if reply.headers["connection"] == "close" { connection = nil }
                } catch {
                    record(nil, error: error)
                    connection = nil
                }
            }
        }
        fresh.name = "fresh"
        keepAlive.name = "keep-alive"
        threads = [fresh, keepAlive]
        for t in threads { t.start() }
    }

    func stop() -> Result {
        lock.withLock { running = false }
        for t in threads { while t.isExecuting { usleep(1000) } }
        return lock.withLock { result }
    }
}
