import Foundation
import JadeAuth
import JadeCore
import JadeHTTP
import JadeShared
import JadeStore
import JadeTransport
import JadeVectors
import Logging
import Synchronization

/// The worker's metrics: the HTTP layer's series, database statement series, and the families
/// computed at scrape time. How each aggregates:
/// - counters and histograms in the registry: summed over every worker's block plus the
///   retired block (never go backwards across restarts and reloads);
/// - `_in_flight`, `_connections`: sum over live worker records;
/// - workers, generation, restarts, reloads, per-slot liveness: the master's view (segment
///   header and records);
/// - users, sessions, locked accounts, WAL, vector databases: computed at scrape from SQLite
///   and the vector store (the same on every worker).
// @unchecked Sendable: a view of this worker's metric block in shared memory (handles are
// atomics there) and of the registry that lays it out.
final class WorkerMetrics: @unchecked Sendable {
    let registry: MetricsRegistry
    let http: HTTPMetrics
    let segment: SharedSegment
    let dbOperations: [Store.StatementKind: (count: MetricCounter, duration: MetricHistogram)]
    let dbErrors: MetricCounter
    let dbConnectionErrors: MetricCounter
    /// For the lead's retry logic (SQLITE_BUSY backoff): add one per retried statement.
    let dbRetries: MetricCounter
    /// `jadevectordb_query_cache_requests_total` by result.
    let queryCacheHits: MetricCounter
    let queryCacheMisses: MetricCounter
    /// `jadevectordb_query_timeouts_total` by kind (sql, scan).
    let queryTimeouts: [String: MetricCounter]
    /// `jadevectordb_hnsw_inserts_total` and `jadevectordb_hnsw_search_visits_total`.
    let hnswInserts: MetricCounter
    let hnswSearchVisits: MetricCounter
    /// Breaker transitions, counted into `circuitTransitions[to]` by the worker that caused them.
    let circuitTransitions: [String: MetricCounter]
    /// False when the segment holds another binary's series table: scrapes show this worker only.
    private let sharedLayout = Atomic<Bool>(true)
    /// Whether the segment's series table is this binary's (set by ``publish(record:logger:)``).
    var shared: Bool { sharedLayout.load(ordering: .relaxed) }

    init(segment: SharedSegment, record: WorkerRecord) {
        self.segment = segment
        registry = segment.metricsRegistry(record: record.index)
        http = HTTPMetrics(registry: registry)
        var ops: [Store.StatementKind: (MetricCounter, MetricHistogram)] = [:]
        for kind in Store.StatementKind.allCases {
            ops[kind] = (
                registry.counter(
                    "jadevectordb_db_operations_total", help: "SQLite statements by operation and status.",
                    labels: [("operation", kind.rawValue), ("status", "success")]),
                registry.histogram(
                    "jadevectordb_db_operation_duration_seconds", help: "SQLite statement duration by operation.",
                    labels: [("operation", kind.rawValue)], buckets: .fast)
            )
        }
        dbOperations = ops
        dbErrors = registry.counter(
            "jadevectordb_db_operations_total", help: "SQLite statements by operation and status.",
            labels: [("operation", "any"), ("status", "error")])
        dbConnectionErrors = registry.counter(
            "jadevectordb_db_connection_errors_total", help: "Failures to open or reach the database.")
        dbRetries = registry.counter(
            "jadevectordb_db_query_retries_total", help: "Statements retried after SQLITE_BUSY.")
        queryCacheHits = registry.counter(
            "jadevectordb_query_cache_requests_total",
            help: "Vector reads (gets, searches) looked up in the query cache, by result.", labels: [("result", "hit")])
        queryCacheMisses = registry.counter(
            "jadevectordb_query_cache_requests_total",
            help: "Vector reads (gets, searches) looked up in the query cache, by result.", labels: [("result", "miss")]
        )
        var timeouts: [String: MetricCounter] = [:]
        for kind in ["sql", "scan"] {
            timeouts[kind] = registry.counter(
                "jadevectordb_query_timeouts_total",
                help: "Statements and vector scans stopped by database.query_timeout_seconds.",
                labels: [("kind", kind)])
        }
        queryTimeouts = timeouts
        hnswInserts = registry.counter(
            "jadevectordb_hnsw_inserts_total", help: "Rows added to HNSW graphs by background catch-ups.")
        hnswSearchVisits = registry.counter(
            "jadevectordb_hnsw_search_visits_total", help: "Distances computed by HNSW graph searches.")
        var transitions: [String: MetricCounter] = [:]
        for to in ["closed", "open", "half_open"] {
            transitions[to] = registry.counter(
                "jadevectordb_circuit_breaker_transitions_total", help: "Circuit-breaker state changes, by new state.",
                labels: [("to", to)])
        }
        circuitTransitions = transitions
        registerWorkerFamilies(record: record)
    }

    /// Counts SQLite errors (from SQLite's error log) into the error series.
    func observeDatabaseErrors() {
        let errors = dbErrors
        let connection = dbConnectionErrors
        Store.observeErrors { isConnectionError in
            errors.increment()
            if isConnectionError { connection.increment() }
        }
    }

    /// The statement observer for ``Store/open(_:readerCount:observer:)``.
    var statementObserver: Store.StatementObserver {
        let ops = dbOperations
        return { kind, nanoseconds in
            guard let op = ops[kind] else { return }
            op.count.increment()
            op.duration.observe(nanoseconds: nanoseconds)
        }
    }

    private func registerWorkerFamilies(record: WorkerRecord) {
        let segment = self.segment
        registry.collected("jadevectordb_build_info", help: "Build information; the value is always 1.") {
            [([("version", JadeVersion.current)], 1)]
        }
        registry.collected(
            "jadevectordb_worker_restarts_total", help: "Workers restarted after dying (master's count).",
            kind: .counter
        ) { [([], Double(segment.header.workerRestarts))] }
        registry.collected("jadevectordb_reloads_total", help: "Accepted configuration reloads.", kind: .counter) {
            [([], Double(segment.header.reloads))]
        }
        registry.collected("jadevectordb_generation", help: "Generation of the newest workers.") {
            [([], Double(segment.header.currentGeneration))]
        }
        registry.collected("jadevectordb_workers_configured", help: "Configured number of workers.") {
            [([], Double(segment.header.configuredWorkers))]
        }
        registry.collected(
            "jadevectordb_workers_ready", help: "Ready workers of the current generation (master's view)."
        ) { [([], Double(segment.header.readyWorkers))] }
        registry.collected(
            "jadevectordb_worker_up",
            help: "1 when the slot's worker of the current generation is ready and heartbeating."
        ) { Self.slotLiveness(segment).map { ([("slot", String($0.slot))], $0.up ? 1 : 0) } }
        registry.collected(
            "jadevectordb_worker_heartbeat_age_seconds", help: "Seconds since the slot's worker last heartbeat."
        ) { Self.slotLiveness(segment).map { ([("slot", String($0.slot))], $0.age) } }
        registry.collected(
            "jadevectordb_http_requests_in_flight", help: "Requests being handled now (sum over live workers)."
        ) { [([], Double(Self.live(segment).reduce(0) { $0 + max($1.inFlight, 0) }))] }
        registry.collected(
            "jadevectordb_http_connections", help: "Open client connections (sum over live workers)."
        ) { [([], Double(Self.live(segment).reduce(0) { $0 + Int64(bitPattern: $1.connections) }))] }
        registry.collected(
            "jadevectordb_uptime_seconds", help: "Seconds since the master started."
        ) { [([], Double(monotonicNanoseconds() &- segment.header.masterStartedNanoseconds) / 1e9)] }
    }

    /// What the store reports as it happens: retries, breaker transitions, query timeouts.
    var poolHooks: PoolHooks {
        let (retries, transitions, timeouts) = (dbRetries, circuitTransitions, queryTimeouts)
        return PoolHooks(
            onRetry: { retries.increment() }, onTransition: { _, state in transitions[state.rawValue]?.increment() },
            onTimeout: { kind in timeouts[kind]?.increment() })
    }

    /// Families read from SQLite and the vector store at scrape time.
    func registerStoreFamilies(auth: AuthServices, store: Store, vectors: VectorStore) {
        let pool = store.pool
        registry.collected(
            "jadevectordb_circuit_breaker_state",
            help: "Database circuit breakers (reads, writes; shared by all workers): 0 closed, 1 open, 2 half-open."
        ) {
            [pool.reads, pool.writes].map { breaker in
                let state = breaker.view().state
                return ([("breaker", breaker.name)], state == .open ? 1 : (state == .halfOpen ? 2 : 0))
            }
        }
        let gauges = ScrapeCache(auth: auth, dbConnectionErrors: dbConnectionErrors)
        registry.collected("jadevectordb_active_sessions", help: "Unexpired sessions.") {
            gauges.current().map { [([], Double($0.activeSessions))] } ?? []
        }
        registry.collected(
            "jadevectordb_users_total", help: "Users in the database (a gauge; name from the sprint plan)."
        ) { gauges.current().map { [([], Double($0.users))] } ?? [] }
        registry.collected("jadevectordb_locked_accounts", help: "Accounts locked by the failed-login policy now.") {
            gauges.current().map { [([], Double($0.lockedAccounts))] } ?? []
        }
        registry.collected("jadevectordb_wal_bytes", help: "Size of the SQLite write-ahead log in bytes.") {
            [([], Double(store.walBytes))]
        }
        registry.collected("jadevectordb_blocked_ips", help: "IP addresses blocked now.") {
            (try? auth.ipBlocks.activeIPBlocks()).map { [([], Double($0.count))] } ?? []
        }
        registry.collected("jadevectordb_vector_databases", help: "Vector databases.") {
            (try? vectors.stats()).map { [([], Double($0.databases))] } ?? []
        }
        registry.collected("jadevectordb_vectors", help: "Vectors stored, over every database.") {
            (try? vectors.stats()).map { [([], Double($0.vectors))] } ?? []
        }
        registry.collected(
            "jadevectordb_hnsw_indexed_rows", help: "Rows covered by published HNSW graphs, over every HNSW database."
        ) { (try? vectors.stats()).map { [([], Double($0.indexedRows))] } ?? [] }
        registry.collected(
            "jadevectordb_hnsw_pending_rows",
            help: "Rows of HNSW databases not yet in their graphs (searched exactly until they are)."
        ) { (try? vectors.stats()).map { [([], Double($0.pendingIndexRows))] } ?? [] }
    }

    /// Publishes the series table; call after every registration, before serving.
    func publish(record: WorkerRecord, logger: Logger) {
        let shared = segment.registerMetricsLayout(registry, record: record.index)
        sharedLayout.store(shared, ordering: .relaxed)
        if !shared {
            logger.error(
                "metrics: this worker's series table differs from the running master's (a different binary?); its /metrics shows only itself until the master restarts"
            )
        }
        if registry.overflowed > 0 {
            logger.error("metrics: series table full", metadata: ["dropped_series": "\(registry.overflowed)"])
        }
    }

    /// The scrape: totals over every worker (or this worker only, see ``shared``).
    func render() -> String {
        shared ? segment.renderMetrics(registry) : MetricsExposition.renderLocal(registry)
    }

    static func live(_ segment: SharedSegment) -> [WorkerRecord] {
        (0..<segment.recordCount).map { segment.record($0) }.filter { $0.state != .free }
    }

    static func slotLiveness(_ segment: SharedSegment) -> [(slot: Int, up: Bool, age: Double)] {
        let generation = segment.header.currentGeneration
        let configured = Int(segment.header.configuredWorkers)
        let now = monotonicNanoseconds()
        var slots = [(slot: Int, up: Bool, age: Double)]()
        for slot in 0..<configured { slots.append((slot, false, 0)) }
        for r in live(segment) where r.generation == generation && Int(r.slot) < configured {
            let age = Double(now &- r.heartbeatNanoseconds) / 1e9
            slots[Int(r.slot)] = (Int(r.slot), r.state == .ready && age < 5, age)
        }
        return slots
    }
}

/// The SQLite gauges, read once per scrape (one read transaction for all three).
final class ScrapeCache: Sendable {
    let auth: AuthServices
    let dbConnectionErrors: MetricCounter
    /// The last reading and when it was taken (held while reading, so one scrape reads).
    private let cached = Mutex<(at: UInt64, value: (users: Int, activeSessions: Int, lockedAccounts: Int))?>(nil)

    init(auth: AuthServices, dbConnectionErrors: MetricCounter) {
        self.auth = auth
        self.dbConnectionErrors = dbConnectionErrors
    }

    func current() -> (users: Int, activeSessions: Int, lockedAccounts: Int)? {
        cached.withLock { cached in
            let now = monotonicNanoseconds()
            if let cached, now &- cached.at < 1_000_000_000 { return cached.value }
            do {
                let value = try auth.authenticator.metricsGauges()
                cached = (now, value)
                return value
            } catch {
                dbConnectionErrors.increment()
                return nil
            }
        }
    }
}
