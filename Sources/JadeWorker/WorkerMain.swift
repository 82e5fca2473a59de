import CJadeShm
import Foundation
import JadeAuth
import JadeConfig
import JadeCore
import JadeHTTP
import JadeShared
import JadeStore
import JadeTransport
import JadeVectors
import Logging
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// File descriptors a worker inherits from the master.
public enum WorkerDescriptors {
    /// The slot's listening socket.
    public static let listener: Int32 = 3
    /// The shared-memory segment.
    public static let sharedMemory: Int32 = 4
    /// A memfd holding the serialized configuration.
    public static let configuration: Int32 = 5
    /// The loopback `/metrics` socket, present only when `metrics.port` is set.
    public static let metricsListener: Int32 = 6
    /// The connection ledger (`ConnectionLedger`): per-address slots the master gives back if
    /// this worker dies.
    public static let connectionLedger: Int32 = 7
}

/// The worker process: attach the segment, open the store, serve HTTP on the inherited socket,
/// heartbeat, and drain on TERM (stop) or USR2 (retire after a reload).
public enum WorkerMain {
    /// Runs the worker; never returns.
    public static func run(record recordIndex: Int, masterPID: Int32) -> Never {
        _ = jade_set_parent_death_signal(SIGTERM)
        jade_tune_malloc()
        if getppid() != masterPID {
            // The master died between spawn and prctl.
            exit(1)
        }
        guard let data = readAll(fd: WorkerDescriptors.configuration), let resolved = ResolvedConfig.deserialize(data)
        else {
            FileHandle.standardError.write(Data("worker: cannot read configuration from fd 5\n".utf8))
            exit(1)
        }
        close(WorkerDescriptors.configuration)
        let config = JadeConfiguration(resolved)
        config.logging.apply()

        let segment: SharedSegment
        do {
            segment = try SharedSegment.attach(fd: WorkerDescriptors.sharedMemory)
        } catch {
            Logger(label: "jadevectordb.worker").critical("\(error)")
            exit(1)
        }
        let record = segment.record(recordIndex)
        record.pid = getpid()
        // Spawned through /proc/self/exe (the master's own binary, even mid-upgrade), a worker
        // would show as `exe`; it names itself instead.
        jade_set_process_title("jadevectordb", "jadevectordb: worker \(record.slot) gen \(record.generation)")
        JSONLogHandler.processMetadata = [
            "role": "worker", "pid": "\(getpid())", "slot": "\(record.slot)", "generation": "\(record.generation)",
        ]
        let logger = Logger(label: "jadevectordb.worker")
        let metrics = WorkerMetrics(segment: segment, record: record)
        // metrics.enabled = false: nothing is recorded on the request path and /metrics is not served.
        let metricsEnabled = config.metrics.enabled
        let separateMetricsPort = metricsEnabled && config.metrics.port != 0
        metrics.observeDatabaseErrors()

        let store: Store
        do {
            let breakerSettings = BreakerSettings(config)
            store = try Store.open(
                config.database, readerCount: 8,
                breakers: (
                    CircuitBreaker(name: "reads", shared: segment.breakerPointer(0), settings: breakerSettings),
                    CircuitBreaker(name: "writes", shared: segment.breakerPointer(1), settings: breakerSettings)
                ), observer: metricsEnabled ? metrics.statementObserver : nil,
                sqlLog: config.logging.logSQLQueries ? Logger(label: "jadevectordb.sql") : nil,
                hooks: metrics.poolHooks)
        } catch {
            logger.critical("cannot open the database", metadata: ["error": "\(error)"])
            exit(1)
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let threadPool = NIOThreadPool(numberOfThreads: 8)
        threadPool.start()
        let eventLoop = group.next()
        let router = Router(metrics: metricsEnabled ? metrics.http : nil)
        let auth = AuthServices(
            pool: store.pool, settings: AuthSettings(config), epochs: SharedEpochs(segment),
            logger: Logger(label: "jadevectordb.auth"),
            lockouts: metrics.registry.counter(
                "jadevectordb_locked_accounts_total", help: "Accounts locked by the failed-login policy (lockouts)."))
        let requestGuard = RequestGuard(
            config: config, segment: segment, ipBlocks: auth.ipBlocks, logger: Logger(label: "jadevectordb.security"),
            metrics: metricsEnabled ? metrics.http : nil,
            ledger: ConnectionLedger.inherited(fd: WorkerDescriptors.connectionLedger))
        requestGuard.refreshBlocks()  // before serving: the event loop never reads SQLite
        AuthRoutes(auth: auth, requestGuard: requestGuard).register(on: router)
        SecurityRoutes(requestGuard: requestGuard, ipBlocks: auth.ipBlocks).register(on: router)
        AdminRoutes(auth: auth).register(on: router)
        let vectors: VectorStore
        do {
            let (hit, miss) = (metrics.queryCacheHits, metrics.queryCacheMisses)
            vectors = try VectorStore(
                store: store, directory: (config.database.dataDirectory as NSString).appendingPathComponent("vectors"),
                changeEpoch: VectorStore.ChangeEpoch(
                    current: { segment.catalogueEpoch }, bump: { segment.bumpCatalogueEpoch() }),
                queryCache: config.cache.enableQueryCache
                    ? QueryCache(onLookup: { found in (found ? hit : miss).increment() }) : nil,
                indexHooks: VectorStore.IndexHooks(
                    onInserted: { [inserts = metrics.hnswInserts] in inserts.increment(by: UInt64($0)) },
                    onSearchVisits: { [visits = metrics.hnswSearchVisits] in visits.increment(by: UInt64($0)) }))
        } catch {
            logger.critical("cannot open the vector store", metadata: ["error": "\(error)"])
            exit(1)
        }
        VectorRoutes(vectors: vectors, auth: auth, maxResponseBytes: config.server.maxResponseBytes).register(
            on: router)
        let health = HealthRoutes(
            segment: segment, record: record, store: store, vectors: vectors, auth: auth, threadPool: threadPool)
        health.register(on: router)
        let gate = Gatekeeper(
            authenticator: auth.authenticator, authorizer: auth.authorizer, threadPool: threadPool,
            requestGuard: requestGuard, metrics: metricsEnabled ? metrics.http : nil)
        metrics.registerStoreFamilies(auth: auth, store: store, vectors: vectors)
        // On the main port, or alone on a loopback port of its own (metrics.port).
        let metricsRouter = separateMetricsPort ? Router() : router
        if metricsEnabled {
            MetricsRoutes(
                gate: gate, threadPool: threadPool, scrapeToken: config.secrets.scrapeToken,
                render: { metrics.render() }
            ).register(on: metricsRouter)
        }
        metrics.publish(record: record, logger: logger)

        let limits = HTTPLimits(
            maxRequestBodyBytes: config.server.maxRequestBodyBytes, maxHeaderBytes: config.server.maxHeaderBytes,
            requestTimeout: .nanoseconds(Int64(config.server.requestTimeout.components.seconds) * 1_000_000_000),
            keepAliveTimeout: .nanoseconds(Int64(config.server.keepAliveTimeout.components.seconds) * 1_000_000_000),
            maxConnections: config.server.maxConnections)
        let application = Application(
            router: router, logger: logger, accessLog: config.logging.accessLog,
            maxResponseBytes: config.server.maxResponseBytes, gate: gate, threadPool: threadPool,
            requestGuard: requestGuard, fastHealth: { buffer in health.writeLiveness(into: &buffer) },
            cors: CORSPolicy(allowedOrigins: config.server.corsAllowedOrigins))
        let counters = TransportCounters(
            inFlight: record.inFlightPointer, requestsTotal: record.requestsTotalPointer,
            connections: record.connectionsPointer)
        // HTTPS on the main port when configured; the files are read now, so the workers of
        // each reload serve the certificate as it is at that reload.
        var tls: NIOSSLContext?
        if config.server.tlsEnabled {
            do {
                tls = try TLSServerContext.make(
                    certificateFile: config.server.tlsCertificateFile, privateKeyFile: config.server.tlsPrivateKeyFile)
            } catch {
                logger.critical("cannot load the TLS certificate", metadata: ["error": "\(error)"])
                exit(1)
            }
        }
        let server = WorkerHTTPServer(
            transport: HTTPTransport(
                eventLoop: eventLoop, limits: limits, responder: application, logger: logger, counters: counters),
            listenFD: WorkerDescriptors.listener, tls: tls)
        let metricsServer: WorkerHTTPServer? =
            separateMetricsPort
            ? WorkerHTTPServer(
                transport: HTTPTransport(
                    eventLoop: eventLoop, limits: limits,
                    responder: Application(
                        router: metricsRouter, logger: logger, accessLog: config.logging.accessLog,
                        maxResponseBytes: config.server.maxResponseBytes, gate: gate, threadPool: threadPool),
                    logger: logger),
                listenFD: WorkerDescriptors.metricsListener) : nil
        do {
            try server.start()
            try metricsServer?.start()
        } catch {
            logger.critical("cannot serve on the inherited socket", metadata: ["error": "\(error)"])
            exit(1)
        }
        record.beat()
        record.state = .ready
        logger.info("worker ready")

        // Heartbeat from the event loop itself: a stuck loop stops beating.
        eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) { _ in
            record.beat()
            if getppid() != masterPID { kill(getpid(), SIGTERM) }
        }

        let shutdownTimeout = TimeAmount.seconds(config.server.shutdownTimeout.components.seconds)
        var draining = false
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGHUP] { sigaddset(&signals, s) }
        while true {
            var received: Int32 = 0
            guard sigwait(&signals, &received) == 0 else { continue }
            switch received {
            case SIGQUIT:
                record.state = .exited
                _exit(0)
            case SIGUSR1:
                JSONLogHandler.sink.reopen()
            case SIGTERM, SIGINT, SIGUSR2:
                guard !draining else { continue }
                draining = true
                let mode: DrainMode = received == SIGUSR2 ? .retire : .stop
                record.state = .draining
                logger.info("worker draining", metadata: ["mode": "\(mode)"])
                eventLoop.execute {
                    let metricsDrained =
                        metricsServer?.drain(mode, deadline: shutdownTimeout) ?? eventLoop.makeSucceededVoidFuture()
                    server.drain(mode, deadline: shutdownTimeout).and(metricsDrained).whenComplete { _ in
                        logger.info("worker drained")
                        record.state = .exited
                        try? store.close()
                        exit(0)
                    }
                }
            default:
                continue
            }
        }
    }

    /// Reads the whole of `fd` with positional reads: workers spawned together share the
    /// memfd's open file description (and so its offset), so `lseek` + `read` could race.
    static func readAll(fd: Int32) -> Data? {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = pread(fd, &buffer, buffer.count, offset)
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
            offset += off_t(n)
        }
        return data
    }
}
