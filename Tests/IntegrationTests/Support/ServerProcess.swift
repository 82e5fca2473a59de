import CJadeTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Paths of the repository and the built binary.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The binary under test: JADEVECTORDB_BIN, else .build/debug/jadevectordb (built by
    /// scripts/test.sh before the tests run).
    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["JADEVECTORDB_BIN"] { return explicit }
        return root.appendingPathComponent(".build/debug/jadevectordb").path
    }

    static var configDirectory: String { root.appendingPathComponent("config").path }
}

/// A temporary directory removed on deinit.
final class TemporaryDirectory {
    let path: String
    init() {
        var template = Array((NSTemporaryDirectory() + "jadetest.XXXXXX").utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A copy of the repository's config directory inside this directory.
    func copyOfConfig() throws -> String {
        let dest = path + "/config"
        try FileManager.default.copyItem(atPath: Repository.configDirectory, toPath: dest)
        return dest
    }
}

/// Runs a jadevectordb command to completion (the test environment's `JADEVECTORDB_*` and
/// `NOTIFY_SOCKET` left out, the repository's config directory given).
func runCommand(
    _ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 30,
    executable: String = Repository.binary
) throws -> (status: Int32, output: String) {
    var env = ProcessInfo.processInfo.environment.filter {
        !$0.key.hasPrefix("JADEVECTORDB_") && $0.key != "NOTIFY_SOCKET"
    }
    env["JADEVECTORDB_CONFIG_DIR"] = Repository.configDirectory
    for (k, v) in environment { env[k] = v }
    return try runTool(executable, arguments, environment: env, timeout: timeout)
}

/// Runs a program (openssl, curl, the binary under test) to completion with a deadline;
/// returns its status and output (standard output and error together). Standard input is
/// `input`, or empty.
func runTool(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil,
    timeout: TimeInterval = 30
) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let directory = TemporaryDirectory()
    let outputPath = directory.path + "/output"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let handle = FileHandle(forWritingAtPath: outputPath)!
    defer { try? handle.close() }
    process.standardOutput = handle
    process.standardError = handle
    let inputPath = directory.path + "/input"
    try (input ?? "").write(toFile: inputPath, atomically: true, encoding: .utf8)
    process.standardInput = FileHandle(forReadingAtPath: inputPath)
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(5_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw TestFailure("\(executable) \(arguments) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    return (process.terminationStatus, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
}

/// Starts `executable` with its standard output and error appended to a new file at `logPath`.
func startLogged(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, logPath: String
) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = FileHandle(forWritingAtPath: logPath)!
    process.standardOutput = log
    process.standardError = log
    try process.run()
    return process
}

/// A `jadevectordb serve` master started by a test on 127.0.0.1 with a free port and a
/// temporary data directory. Stopped (by PID) when the test lets go of it.
///
/// The port is one the kernel just handed out and released: another process may take it before
/// the server binds it. The server then exits at once ("address already in use"), and it is
/// started again on another port (at most 5 times).
final class ServerProcess {
    private(set) var port: Int
    let directory: TemporaryDirectory
    let logPath: String
    private(set) var process: Process
    let workers: Int

    var pid: pid_t { process.processIdentifier }
    var dataDirectory: String { directory.path + "/data" }

    init(
        workers: Int = 2, environment: [String: String] = [:], notify: NotifySocket? = nil,
        directory: TemporaryDirectory = TemporaryDirectory(), configDirectory: String? = nil,
        launcher: [String] = [], firstPort: Int? = nil
    ) throws {
        self.directory = directory
        self.workers = workers
        // `firstPort`: the port to try first (a test of the retry gives a taken one).
        port = firstPort ?? Int(jt_free_port())
        logPath = directory.path + "/server.log"
        var env = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("JADEVECTORDB_")
                && !["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"].contains($0.key)
        }
        env["JADEVECTORDB_CONFIG_DIR"] = configDirectory ?? Repository.configDirectory
        env["JADEVECTORDB_PORT"] = String(port)
        env["JADEVECTORDB_HOST"] = "127.0.0.1"
        env["JADEVECTORDB_WORKERS"] = String(workers)
        env["JADEVECTORDB_DATA_DIR"] = directory.path + "/data"
        if let notify { env["NOTIFY_SOCKET"] = notify.path }
        // Tests log in and register often from 127.0.0.1: generous limits unless a test sets its own.
        for limit in ["LOGIN", "REGISTRATION", "PASSWORD_RESET", "PASSWORD_RESET_ADDRESS"] {
            env["JADEVECTORDB_RATE_LIMITS_\(limit)_LIMIT"] = "10000"
            env["JADEVECTORDB_RATE_LIMITS_\(limit)_BURST"] = "10000"
        }
        for (k, v) in environment { env[k] = v }
        // `launcher`: a command the server runs under (e.g. setpriv dropping capabilities).
        let command = launcher + [Repository.binary, "serve"]
        process = try startLogged(command[0], Array(command.dropFirst()), environment: env, logPath: logPath)
        guard environment["JADEVECTORDB_PORT"] == nil else { return }  // the test chose it
        for _ in 0..<5 {
            // Bound (the master logs its start after binding), or lost the port to someone else?
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && !log.contains("master starting") && Date() < deadline { usleep(5_000) }
            guard !process.isRunning, log.contains("address already in use") else { return }
            try? FileManager.default.moveItem(atPath: logPath, toPath: logPath + ".port-\(port)")
            port = Int(jt_free_port())
            env["JADEVECTORDB_PORT"] = String(port)
            process = try startLogged(command[0], Array(command.dropFirst()), environment: env, logPath: logPath)
        }
    }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until /health answers 200 (bounded).
    func waitHealthy(timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { throw TestFailure("server exited early:\n\(log)") }
            if let reply = try? httpRequest(port: port, "GET", "/health"), reply.status == 200 { return }
            usleep(50_000)
        }
        throw TestFailure("server not healthy within \(timeout) s:\n\(log)")
    }

    /// Waits until every slot answers from generation `generation` (bounded).
    func waitForGeneration(_ generation: Int, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let slots = try? slotsSeen(generation: generation, attempts: 40), slots.count == workers { return }
            usleep(100_000)
        }
        throw TestFailure("generation \(generation) not serving on every slot within \(timeout) s:\n\(log)")
    }

    /// Slots answering /health over fresh connections (from `generation` only, if given).
    func slotsSeen(generation: Int? = nil, attempts: Int = 100) throws -> Set<Int> {
        var slots = Set<Int>()
        for _ in 0..<attempts {
            let reply = try httpRequest(port: port, "GET", "/health")
            guard let worker = reply.json?["worker"] as? [String: Any], let slot = worker["slot"] as? Int else {
                continue
            }
            if let generation, worker["generation"] as? Int != generation { continue }
            slots.insert(slot)
            if slots.count == workers { break }
        }
        return slots
    }

    /// Worker pids, from /proc (children of the master).
    func workerPIDs() -> [pid_t] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) else {
            return []
        }
        return text.split(separator: " ").compactMap { pid_t($0) }
    }

    func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the master to exit; returns its exit status.
    func waitForExit(timeout: TimeInterval = 45) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard !process.isRunning else {
            throw TestFailure("server did not exit within \(timeout) s; log:\n\(log.suffix(3000))")
        }
        return process.terminationStatus
    }
}

/// Polls `condition` every 20 ms until it holds; fails the test after `timeout` seconds.
func waitUntil(_ what: String, timeout: TimeInterval = 10, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    throw TestFailure("timed out after \(timeout) s waiting for \(what)")
}

/// Runs `sql` on the SQLite database at `path` from another process (python3's sqlite3), as an
/// operator or a clock would change it behind the server's back.
func runSQL(_ path: String, _ sql: String) throws {
    let result = try runCommand(
        [
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=10); c.executescript(sys.argv[2]); c.close()",
            path, sql,
        ], executable: "/usr/bin/python3")
    guard result.status == 0 else { throw TestFailure("SQL failed: \(result.output)") }
}

/// `--allow-root` when the tests run as root (CI containers), for commands run in production.
var allowRootIfRoot: [String] { geteuid() == 0 ? ["--allow-root"] : [] }
