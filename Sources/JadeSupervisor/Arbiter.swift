import CJadeShm
import Foundation
import JadeConfig
import JadeCore
import JadeShared
import JadeStore
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The master process. Reads top to bottom as the server's lifecycle: start workers, reap the
/// dead, replace the hung, reload on HUP, drain and stop on TERM. One synchronous loop: signals
/// are blocked and taken with `sigtimedwait`, whose short timeout also drives heartbeat checks,
/// readiness, the systemd watchdog and WAL checkpoints.
public final class Arbiter {
    /// A worker process the master started.
    final class Worker {
        let pid: pid_t
        let record: WorkerRecord
        let slot: Int
        let generation: UInt32
        let spawnedAt: UInt64
        var readyAt: UInt64?
        var retiring = false
        var killDeadline: UInt64?
        /// The per-address connection slots it holds (given back when it exits).
        let ledger: ConnectionLedger?

        init(pid: pid_t, record: WorkerRecord, slot: Int, generation: UInt32, ledger: ConnectionLedger?) {
            self.pid = pid
            self.ledger = ledger
            self.record = record
            self.slot = slot
            self.generation = generation
            self.spawnedAt = jade_monotonic_ns()
        }
    }

    /// A heartbeat older than this is not fresh for the systemd watchdog.
    static let heartbeatFreshness: UInt64 = 3_000_000_000
    static let tick: Int = 100_000_000  // ns

    private var config: JadeConfiguration
    private let environment: [String: String]
    private let environmentOverride: DeploymentEnvironment?
    private let logger = Logger(label: "jadevectordb.master")
    private let notifier = SystemdNotifier()
    private let segment: SharedSegment
    /// The segment's rate-limit table (the master only gives back dead workers' slots).
    private let rateLimitTable: RateLimitTable?
    private let sockets: ListeningSockets
    /// The loopback socket for `/metrics` when `metrics.port` is set (shared by every worker).
    private let metricsSocket: ListeningSockets?
    private let store: Store

    private var workers: [pid_t: Worker] = [:]
    private var generation: UInt32 = 1
    private var configFDs: [UInt32: Int32] = [:]
    private var restarts = RestartPolicy()
    private var respawnAt: [Int: UInt64] = [:]
    private var announcedReady = false
    private var reloadingGeneration: UInt32?
    private var reloadPending = false
    private var stopDeadline: UInt64?
    private var lastWatchdog: UInt64 = 0
    private var lastCheckpoint: UInt64 = jade_monotonic_ns()
    /// When the audit log was last purged (0: soon after start).
    private var lastAuditPurge: UInt64 = 0
    /// The master's database duties, off its signal loop.
    private let maintenance = MaintenanceQueue()
    private var exitCode: Int32 = 0
    /// The admin CLI's change counter as last seen (by the auth-poll duty).
    private var authChangeCounter = SeenCounter(0)
    private var lastAuthPoll: UInt64 = 0
    /// What a reload's configuration must also pass beyond the schema (files the workers will
    /// read, such as the TLS certificate): a problem rejects the reload.
    private let reloadCheck: (JadeConfiguration) -> String?

    /// Prepares everything that can fail before a worker starts: data directory, database and
    /// migrations, sockets, shared memory. Throws a message fit for the operator.
    /// `schema` is every module's tables (the master knows none of them itself). `bootstrap`
    /// runs once the database is migrated, before anything is bound or spawned
    /// (`serve` creates the first admin there; the master itself knows nothing of users).
    public init(
        config: JadeConfiguration, environment: [String: String], environmentOverride: DeploymentEnvironment?,
        schema: Schema, reloadCheck: @escaping (JadeConfiguration) -> String? = { _ in nil },
        bootstrap: (Store) throws -> Void = { _ in }
    ) throws {
        self.config = config
        self.reloadCheck = reloadCheck
        self.environment = environment
        self.environmentOverride = environmentOverride
        try DataDirectory.prepare(config.database.dataDirectory)
        store = try Store.open(config.database, readerCount: 1)
        try store.migrate(schema)
        try bootstrap(store)
        authChangeCounter = SeenCounter((try? Store.changeCounter(store.pool)) ?? 0)
        if let activated = try ListeningSockets.fromSocketActivation() {
            sockets = activated
        } else {
            sockets = try ListeningSockets.bind(
                host: config.server.host, port: config.server.port, count: config.server.effectiveWorkers,
                backlog: config.server.backlog)
        }
        let metricsPort = config.metrics.port
        if metricsPort != 0 && config.metrics.enabled {
            metricsSocket = try ListeningSockets.bind(host: "127.0.0.1", port: metricsPort, count: 1, backlog: 128)
        } else {
            metricsSocket = nil
        }
        // Sized once: a reload cannot resize the segment (workers map it), so a new capacity needs a restart.
        segment = try SharedSegment.create(
            rateLimitCapacity: config.security.rateLimitTableCapacity)
        rateLimitTable = try? RateLimitTable(segment: segment)
        segment.header.configuredWorkers = UInt32(config.server.effectiveWorkers)
        segment.header.currentGeneration = generation
        configFDs[generation] = try Self.configMemfd(config.resolved)
    }

    /// The signals the master handles; `main` blocks them before any thread starts.
    public static let handledSignals: [Int32] = [
        SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU,
    ]

    /// Runs until stopped; returns the process exit code.
    public func run() -> Int32 {
        logger.info(
            "master starting",
            metadata: [
                "host": "\(sockets.host)", "port": "\(sockets.port)", "workers": "\(config.server.effectiveWorkers)",
                "environment": "\(config.environment.rawValue)", "version": "\(JadeVersion.current)",
                "socket_activation": "\(sockets.activated)",
            ])
        notifier.status("starting \(config.server.effectiveWorkers) workers")
        var set = sigset_t()
        sigemptyset(&set)
        for s in Self.handledSignals { sigaddset(&set, s) }
        var timeout = timespec(tv_sec: 0, tv_nsec: Self.tick)
        while true {
            let signal = sigtimedwait(&set, nil, &timeout)
            if signal > 0 { handle(signal: signal) }
            reap()
            if let deadline = stopDeadline {
                if workers.isEmpty { return finishStop() }
                if jade_monotonic_ns() > deadline { killAll(SIGKILL, reason: "drain deadline passed") }
                continue
            }
            spawnMissing()
            checkLiveness()
            checkReadiness()
            sendWatchdog()
            checkpointIfDue()
            rotateLogIfDue()
            purgeAuditIfDue()
            pollAuthChanges()
            if stopDeadline == nil && exitCode != 0 { beginStop(reason: "fatal error") }
        }
    }

    // MARK: signals

    private func handle(signal: Int32) {
        switch signal {
        case SIGTERM, SIGINT:
            beginStop(reason: signal == SIGTERM ? "SIGTERM" : "SIGINT")
        case SIGQUIT:
            logger.notice("SIGQUIT: stopping immediately")
            notifier.stopping(status: "stopping immediately")
            killAll(SIGQUIT, reason: "immediate stop")
            let deadline = jade_monotonic_ns() + 2_000_000_000
            while !workers.isEmpty && jade_monotonic_ns() < deadline {
                reap()
                usleep(10_000)
            }
            killAll(SIGKILL, reason: "immediate stop")
            exit(0)
        case SIGHUP:
            reload()
        case SIGUSR1:
            JSONLogHandler.sink.reopen()
            for worker in workers.values { kill(worker.pid, SIGUSR1) }
        default:
            break  // SIGCHLD: reaping happens every tick
        }
    }

    // MARK: spawning

    private func spawnMissing() {
        let count = config.server.effectiveWorkers
        let now = jade_monotonic_ns()
        for slot in 0..<count {
            let present = workers.values.contains { $0.slot == slot && $0.generation == generation && !$0.retiring }
            if present { continue }
            if let at = respawnAt[slot], now < at { continue }
            respawnAt[slot] = nil
            spawn(slot: slot)
        }
    }

    private func spawn(slot: Int) {
        guard
            let recordIndex = (0..<segment.recordCount).first(where: { i in
                segment.record(i).state == .free && !workers.values.contains { $0.record.index == i }
            })
        else {
            logger.error("no free worker record in shared memory")
            return
        }
        let record = segment.record(recordIndex)
        record.claim(slot: slot, generation: generation)
        guard let configFD = configFDs[generation] else { return }
        let argv = ["jadevectordb", "worker", "--record", String(recordIndex), "--master-pid", String(getpid())]
        let env = Self.workerEnvironment(environment)
        var pid: pid_t = 0
        var src: [Int32] = [sockets.descriptor(forSlot: slot), segment.fd, configFD]
        var dst: [Int32] = [3, 4, 5]
        if let metricsSocket {
            src.append(metricsSocket.descriptor(forSlot: 0))
            dst.append(6)
        }
        // Where the worker records the per-address connection slots it takes (fd 7), so that
        // they can be given back if it dies.
        let ledger = try? ConnectionLedger.create(capacity: config.server.maxConnections + 64)
        if let ledger {
            src.append(ledger.fd)
            dst.append(7)
        }
        let rc = withCStrings(argv) { cargv in
            withCStrings(env) { cenv in
                jade_spawn("/proc/self/exe", cargv, cenv, src, dst, Int32(src.count), &pid)
            }
        }
        guard rc == 0 else {
            record.state = .free
            logger.error(
                "cannot spawn worker", metadata: ["slot": "\(slot)", "error": "\(String(cString: strerror(rc)))"])
            respawnAt[slot] = jade_monotonic_ns() + 1_000_000_000
            return
        }
        record.pid = pid
        workers[pid] = Worker(pid: pid, record: record, slot: slot, generation: generation, ledger: ledger)
        logger.info(
            "worker spawned", metadata: ["worker_pid": "\(pid)", "slot": "\(slot)", "generation": "\(generation)"])
    }

    static func workerEnvironment(_ env: [String: String]) -> [String] {
        let stripped: Set<String> = [
            "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
        ]
        // The configuration (secrets included) reaches workers through fd 5, never the environment.
        var out = env.filter { !stripped.contains($0.key) && !$0.key.hasPrefix("JADEVECTORDB_") }
        // A crashing worker must exit at once (the master replaces it), not spend seconds in the
        // runtime's interactive backtracer; the crash message still reaches the log.
        if out["SWIFT_BACKTRACE"] == nil { out["SWIFT_BACKTRACE"] = "enable=no" }
        return out.map { "\($0.key)=\($0.value)" }.sorted()
    }

    static func configMemfd(_ resolved: ResolvedConfig) throws -> Int32 {
        let data = resolved.serialized()
        let fd = data.withUnsafeBytes { raw in
            jade_memfd_with_contents("jadevectordb-config", raw.baseAddress, raw.count)
        }
        guard fd >= 0 else {
            throw ListenError(description: "cannot create the configuration memfd: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    // MARK: reaping and liveness

    /// Gives back the per-address connection slots a worker that exited still held (a clean
    /// exit holds none; a crash or kill held one per open connection).
    private func releaseConnectionSlots(of worker: Worker) {
        guard let ledger = worker.ledger, let table = rateLimitTable else { return }
        let keys = ledger.recordedKeys()
        guard !keys.isEmpty else { return }
        for key in keys {
            table.refund(key, rate: 1e-9, burst: Double(config.server.maxConnectionsPerIP))
        }
        logger.info(
            "gave back the connection slots of an exited worker",
            metadata: ["worker_pid": "\(worker.pid)", "slots": "\(keys.count)"])
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            guard let worker = workers.removeValue(forKey: pid) else { continue }
            let wasReady = worker.readyAt != nil || worker.record.state == .ready || worker.record.state == .draining
            // Fold its counters into the retired total before the record can be reused (the
            // scrape's seqlock keeps the fold atomic for readers: no decrease, no double count).
            segment.foldMetrics(record: worker.record.index)
            releaseConnectionSlots(of: worker)
            worker.record.state = .free
            worker.record.pid = 0
            let how = Self.describe(status: status)
            let expected = worker.retiring || stopDeadline != nil
            if expected {
                logger.info(
                    "worker exited", metadata: ["worker_pid": "\(pid)", "slot": "\(worker.slot)", "status": "\(how)"])
                continue
            }
            guard worker.generation == generation else { continue }
            let now = jade_monotonic_ns()
            if wasReady {
                // A worker that served and died: restart it, backing off if it keeps dying soon
                // after its start.
                let decision = restarts.servingWorkerDied(
                    slot: worker.slot, servedNanoseconds: now &- (worker.readyAt ?? worker.spawnedAt))
                logger.error(
                    "worker died; restarting",
                    metadata: ["worker_pid": "\(pid)", "slot": "\(worker.slot)", "status": "\(how)"])
                segment.header.noteWorkerRestart()
                if case .restart(let delay) = decision { respawnAt[worker.slot] = now + delay }
                continue
            }
            let decision = restarts.bootFailed(slot: worker.slot)
            let failures = restarts.bootFailures(slot: worker.slot)
            logger.error(
                "worker failed at boot",
                metadata: [
                    "worker_pid": "\(pid)", "slot": "\(worker.slot)", "status": "\(how)", "failures": "\(failures)",
                ])
            guard case .restart(let delay) = decision else {
                if reloadingGeneration == generation {
                    abandonReload(reason: "workers of the new configuration failed to start (\(how))")
                } else {
                    logger.critical(
                        "workers keep failing at boot; stopping",
                        metadata: ["slot": "\(worker.slot)", "last_status": "\(how)"])
                    FileHandle.standardError.write(
                        Data("jadevectordb: workers keep failing at boot (last: \(how)); see the log above\n".utf8))
                    exitCode = 1
                }
                continue
            }
            segment.header.noteWorkerRestart()
            respawnAt[worker.slot] = now + delay
        }
    }

    static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exit \((status >> 8) & 0xff)" }
        return "signal \(signal)"
    }

    private func checkLiveness() {
        let now = jade_monotonic_ns()
        let hungAfter = UInt64(config.server.workerTimeout.components.seconds) * 1_000_000_000
        let bootLimit = UInt64(config.server.workerBootTimeout.components.seconds) * 1_000_000_000
        for worker in workers.values {
            if let deadline = worker.killDeadline, now > deadline {
                logger.warning("worker did not drain in time; killing", metadata: ["worker_pid": "\(worker.pid)"])
                kill(worker.pid, SIGKILL)
                worker.killDeadline = nil
                continue
            }
            switch worker.record.state {
            case .ready where worker.readyAt == nil:
                worker.readyAt = now
                restarts.workerReady(slot: worker.slot)
            case .ready:
                let age = now &- worker.record.heartbeatNanoseconds
                if age > hungAfter && !worker.retiring {
                    logger.error(
                        "worker hung (no heartbeat); killing",
                        metadata: [
                            "worker_pid": "\(worker.pid)", "slot": "\(worker.slot)",
                            "seconds": "\(age / 1_000_000_000)",
                        ])
                    kill(worker.pid, SIGKILL)
                }
            case .starting:
                if now - worker.spawnedAt > bootLimit {
                    logger.error("worker did not start in time; killing", metadata: ["worker_pid": "\(worker.pid)"])
                    kill(worker.pid, SIGKILL)
                }
            default:
                break
            }
        }
    }

    private func generationReady(_ g: UInt32) -> Bool {
        let count = config.server.effectiveWorkers
        var readySlots = Set<Int>()
        for worker in workers.values where worker.generation == g && worker.record.state == .ready {
            readySlots.insert(worker.slot)
        }
        return readySlots.count >= count
    }

    private func statusLine() -> String {
        "serving on \(sockets.host):\(sockets.port) with \(config.server.effectiveWorkers) workers (generation \(generation))"
    }

    private func checkReadiness() {
        let ready = generationReady(generation)
        segment.header.readyWorkers = UInt32(
            workers.values.filter { $0.generation == generation && $0.record.state == .ready }.count)
        guard ready else { return }
        if !announcedReady {
            announcedReady = true
            notifier.ready(status: statusLine())
            logger.info("ready", metadata: ["port": "\(sockets.port)", "generation": "\(generation)"])
        }
        if reloadingGeneration == generation {
            reloadingGeneration = nil
            retireOldGenerations()
            segment.header.noteReload()
            notifier.ready(status: statusLine())
            logger.info("reload complete", metadata: ["generation": "\(generation)"])
            if reloadPending {
                reloadPending = false
                reload()
            }
        }
    }

    private func retireOldGenerations() {
        let count = config.server.effectiveWorkers
        let drainLimit = UInt64(config.server.shutdownTimeout.components.seconds + 5) * 1_000_000_000
        // Sockets of slots that no longer exist are closed here; their old workers drain the
        // queue (stop mode) before closing their own copies.
        sockets.closeSlots(from: count)
        for worker in workers.values where worker.generation != generation && !worker.retiring {
            worker.retiring = true
            worker.killDeadline = jade_monotonic_ns() + drainLimit
            kill(worker.pid, worker.slot < count ? SIGUSR2 : SIGTERM)
        }
        for g in configFDs.keys where g != generation {
            close(configFDs[g]!)
            configFDs[g] = nil
        }
    }

    // MARK: reload

    private func reload() {
        guard stopDeadline == nil else { return }
        if reloadingGeneration != nil {
            reloadPending = true
            return
        }
        notifier.reloading(status: "reloading configuration")
        logger.notice("SIGHUP: reloading configuration")
        let resolved: ResolvedConfig
        do {
            resolved = try ConfigLoader.load(environment: environment, environmentOverride: environmentOverride)
        } catch {
            let first = error.issues.first.map { "\($0)" } ?? "invalid configuration"
            let more = error.issues.count > 1 ? " (+\(error.issues.count - 1) more)" : ""
            logger.error("reload rejected; the old configuration stays in force", metadata: ["error": "\(error)"])
            notifier.send(["READY=1", "STATUS=reload rejected: \(first)\(more); \(statusLine())"])
            return
        }
        let unchangeable = ConfigSchema.restartOnlyKeys.filter { resolved.values[$0] != config.resolved.values[$0] }
        if !unchangeable.isEmpty {
            logger.warning(
                "these keys change only on restart; keeping the running values",
                metadata: ["keys": "\(unchangeable.joined(separator: ", "))"])
        }
        let pinnedConfig = Self.pinned(resolved, running: config.resolved)
        let next = JadeConfiguration(pinnedConfig)
        if let problem = reloadCheck(next) {
            logger.error("reload rejected; the old configuration stays in force", metadata: ["error": "\(problem)"])
            notifier.send(["READY=1", "STATUS=reload rejected: \(problem); \(statusLine())"])
            return
        }
        let fd: Int32
        do {
            try sockets.ensure(count: next.server.effectiveWorkers)
            fd = try Self.configMemfd(pinnedConfig)
        } catch {
            logger.error("reload failed", metadata: ["error": "\(error)"])
            notifier.send(["READY=1", "STATUS=reload failed: \(error); \(statusLine())"])
            return
        }
        config = next
        next.logging.apply()
        generation += 1
        configFDs[generation] = fd
        restarts.newGeneration()
        respawnAt = [:]
        reloadingGeneration = generation
        segment.header.configuredWorkers = UInt32(next.server.effectiveWorkers)
        segment.header.currentGeneration = generation
        notifier.status("reloading: starting generation \(generation)")
    }

    /// The resolved config with the restart-only keys forced back to the running values.
    static func pinned(_ resolved: ResolvedConfig, running: ResolvedConfig) -> ResolvedConfig {
        var values = resolved.values
        var sources = resolved.sources
        for key in ConfigSchema.restartOnlyKeys {
            values[key] = running.values[key]
            sources[key] = running.sources[key]
        }
        return ResolvedConfig(
            environment: resolved.environment, configDirectory: resolved.configDirectory, values: values,
            sources: sources)
    }

    private func abandonReload(reason: String) {
        logger.error("reload abandoned; the old workers keep serving", metadata: ["reason": "\(reason)"])
        let failed = generation
        for worker in workers.values where worker.generation == failed {
            worker.retiring = true
            kill(worker.pid, SIGKILL)
        }
        if let fd = configFDs.removeValue(forKey: failed) { close(fd) }
        generation -= 1
        reloadingGeneration = nil
        restarts.newGeneration()
        segment.header.currentGeneration = generation
        if let resolved = configFDs[generation].flatMap({ Self.readConfig(fd: $0) }) {
            config = JadeConfiguration(resolved)
            segment.header.configuredWorkers = UInt32(config.server.effectiveWorkers)
        }
        notifier.send(["READY=1", "STATUS=reload abandoned: \(reason); \(statusLine())"])
    }

    static func readConfig(fd: Int32) -> ResolvedConfig? {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = pread(fd, &buffer, buffer.count, offset)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
            offset += off_t(n)
        }
        return ResolvedConfig.deserialize(data)
    }

    // MARK: stopping

    private func beginStop(reason: String) {
        guard stopDeadline == nil else { return }
        logger.notice("stopping: draining workers", metadata: ["reason": "\(reason)"])
        notifier.stopping(status: "stopping (\(reason)): draining \(workers.count) workers")
        // Close our copies first, so each worker's copy is the last: a worker drains its socket's
        // accept queue and then closes it, and no connection is left queued on a dead socket.
        sockets.closeAll()
        metricsSocket?.closeAll()
        for worker in workers.values { kill(worker.pid, SIGTERM) }
        stopDeadline =
            jade_monotonic_ns() + UInt64(config.server.shutdownTimeout.components.seconds + 5) * 1_000_000_000
    }

    private func killAll(_ signal: Int32, reason: String) {
        for worker in workers.values {
            if signal == SIGKILL {
                logger.warning("killing worker", metadata: ["worker_pid": "\(worker.pid)", "reason": "\(reason)"])
            }
            kill(worker.pid, signal)
        }
    }

    private func finishStop() -> Int32 {
        maintenance.drain()  // duties under way finish before the store closes
        do {
            try store.checkpoint(mode: .truncate)
            try store.close()
        } catch {
            logger.error("final checkpoint failed", metadata: ["error": "\(error)"])
        }
        logger.notice("stopped", metadata: ["exit_code": "\(exitCode)"])
        return exitCode
    }

    // MARK: periodic duties

    private func sendWatchdog() {
        guard let interval = notifier.watchdogInterval else { return }
        let now = jade_monotonic_ns()
        guard now - lastWatchdog >= interval * 1000 / 2 else { return }
        // Fresh only if every slot of the current generation has a ready worker that beat lately.
        let count = config.server.effectiveWorkers
        var fresh = Set<Int>()
        for worker in workers.values where worker.generation == generation && worker.record.state == .ready {
            if now &- worker.record.heartbeatNanoseconds < Self.heartbeatFreshness { fresh.insert(worker.slot) }
        }
        guard fresh.count >= count else { return }
        lastWatchdog = now
        notifier.watchdog()
    }

    /// Command-line tools change users in the database directly and bump a counter there; turn
    /// that into a global epoch bump so every worker drops its cached credentials and grants.
    private func pollAuthChanges() {
        let now = jade_monotonic_ns()
        guard now - lastAuthPoll >= 1_000_000_000 else { return }
        lastAuthPoll = now
        let (pool, segment, logger, seen) = (store.pool, self.segment, self.logger, authChangeCounter)
        maintenance.run("auth-poll") {
            guard let counter = try? Store.changeCounter(pool), seen.changed(to: counter) else { return }
            segment.bumpGlobalEpoch()
            segment.header.bumpBlocksEpoch()  // the CLI may have changed the block list too
            logger.info("changes from a command-line tool; permission caches and block lists invalidated")
        }
    }

    /// With `logging.output = file`: once the file reaches `logging.max_file_size_mb`, rotates
    /// it (keeping `logging.max_files`), reopens it here and has every worker reopen it (SIGUSR1),
    /// as an operator's logrotate would. Checked every tick (one stat).
    private func rotateLogIfDue() {
        guard config.logging.output == "file" else { return }
        let rotation = LogRotation(
            path: config.logging.filePath, maxBytes: config.logging.maxFileBytes, maxFiles: config.logging.maxFiles)
        guard rotation.isDue, rotation.rotate() else { return }
        JSONLogHandler.sink.reopen()
        for worker in workers.values { kill(worker.pid, SIGUSR1) }
        logger.info("log file rotated", metadata: ["path": "\(rotation.path)", "kept": "\(rotation.maxFiles)"])
    }

    /// Once an hour (and a few seconds after start), deletes audit events older than
    /// `audit.retention_days`, on the maintenance queue.
    private func purgeAuditIfDue() {
        let now = jade_monotonic_ns()
        guard lastAuditPurge == 0 || now - lastAuditPurge >= 3_600_000_000_000 else { return }
        lastAuditPurge = now
        let pool = store.pool
        let retention = config.database.auditRetention
        let logger = self.logger
        maintenance.run("audit-purge") {
            do {
                let deleted = try AuditRetention.purge(pool, retention: retention)
                if deleted > 0 {
                    logger.info(
                        "audit log purged",
                        metadata: [
                            "deleted": "\(deleted)", "retention_days": "\(retention.components.seconds / 86_400)",
                        ])
                }
            } catch {
                logger.warning("audit log purge failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func checkpointIfDue() {
        let now = jade_monotonic_ns()
        let interval = UInt64(config.database.checkpointInterval.components.seconds) * 1_000_000_000
        guard now - lastCheckpoint >= interval else { return }
        lastCheckpoint = now
        let (store, logger) = (self.store, self.logger)
        maintenance.run("checkpoint") {
            do {
                try store.checkpoint(mode: .passive)
            } catch {
                logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Runs `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
