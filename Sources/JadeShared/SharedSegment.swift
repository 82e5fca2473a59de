import CJadeShm

#if canImport(Glibc)
    import Glibc
#endif

/// Errors creating or attaching the shared-memory segment.
public struct SharedSegmentError: Error, CustomStringConvertible {
    public let description: String
}

/// The state of one worker process as recorded in shared memory.
public enum WorkerState: UInt32, Sendable {
    case free = 0
    case starting = 1
    case ready = 2
    case draining = 3
    case exited = 4
}

/// The Swift view of the shared-memory segment that the master creates and every worker maps:
/// the header and the table of worker records. All fields are read and written atomically.
// @unchecked Sendable: a shared-memory view: every field through C atomics.
public final class SharedSegment: @unchecked Sendable {
    /// The memfd holding the segment (inherited by workers as fd 4).
    public let fd: Int32
    let base: UnsafeMutablePointer<jade_shm_segment_t>

    private init(fd: Int32, base: UnsafeMutablePointer<jade_shm_segment_t>) {
        self.fd = fd
        self.base = base
    }

    /// Creates a fresh, zeroed segment (master only) with a rate-limit table of
    /// `rateLimitCapacity` entries (`security.rate_limit_table_capacity`; rounded up to a power of
    /// two, 0 for none). The table takes about 15,900 entries per MiB
    /// (``RateLimitTable/keysPerMiB``).
    public static func create(
        rateLimitCapacity: Int = RateLimitTable.defaultCapacity,
        fullTablePolicy: RateLimitFullTablePolicy = .failOpen
    ) throws -> SharedSegment {
        precondition(rateLimitCapacity >= 0)
        var p: UnsafeMutablePointer<jade_shm_segment_t>?
        let fd = jade_shm_create_with_ratelimit(UInt64(rateLimitCapacity), fullTablePolicy.rawValue, &p)
        guard fd >= 0, let p else {
            throw SharedSegmentError(description: "cannot create shared memory: \(String(cString: strerror(errno)))")
        }
        return SharedSegment(fd: fd, base: p)
    }

    /// Maps the segment a worker inherited.
    public static func attach(fd: Int32) throws -> SharedSegment {
        var p: UnsafeMutablePointer<jade_shm_segment_t>?
        guard jade_shm_attach(fd, &p) == 0, let p else {
            throw SharedSegmentError(
                description: "cannot attach shared memory on fd \(fd): \(String(cString: strerror(errno)))")
        }
        return SharedSegment(fd: fd, base: p)
    }

    /// Size in bytes of the whole segment (fixed part and rate-limit table).
    public var size: Int { Int(base.pointee.header.segment_size) }

    /// Number of worker records.
    public var recordCount: Int { Int(JADE_MAX_RECORDS) }

    /// Record `index` (0 ..< recordCount).
    public func record(_ index: Int) -> WorkerRecord {
        precondition(index >= 0 && index < recordCount)
        return WorkerRecord(pointer: jade_record(base, UInt32(index)), index: index)
    }

    /// Header fields.
    public var header: SegmentHeader {
        SegmentHeader(pointer: withUnsafeMutablePointer(to: &base.pointee.header) { $0 })
    }
}

@inline(__always)
func fieldPointer<Base, Field>(_ base: UnsafeMutablePointer<Base>, _ path: KeyPath<Base, Field>)
    -> UnsafeMutablePointer<Field>
{
    (UnsafeMutableRawPointer(base) + MemoryLayout<Base>.offset(of: path)!).assumingMemoryBound(to: Field.self)
}

/// Live fields of the segment header.
// @unchecked Sendable: a pointer into shared memory: every field through C atomics.
public struct SegmentHeader: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<jade_shm_header_t>

    public var masterPID: Int32 { jade_load_i32(fieldPointer(pointer, \.master_pid)) }
    public var configuredWorkers: UInt32 {
        get { jade_load_u32(fieldPointer(pointer, \.configured_workers)) }
        nonmutating set { jade_store_u32(fieldPointer(pointer, \.configured_workers), newValue) }
    }
    public var currentGeneration: UInt32 {
        get { jade_load_u32(fieldPointer(pointer, \.current_generation)) }
        nonmutating set { jade_store_u32(fieldPointer(pointer, \.current_generation), newValue) }
    }
    public var readyWorkers: UInt32 {
        get { jade_load_u32(fieldPointer(pointer, \.ready_workers)) }
        nonmutating set { jade_store_u32(fieldPointer(pointer, \.ready_workers), newValue) }
    }
    public var masterStartedNanoseconds: UInt64 { jade_load_u64(fieldPointer(pointer, \.master_started_ns)) }
    public var workerRestarts: UInt64 { jade_load_u64(fieldPointer(pointer, \.worker_restarts)) }
    public func noteWorkerRestart() { _ = jade_add_u64(fieldPointer(pointer, \.worker_restarts), 1) }
    public var reloads: UInt64 { jade_load_u64(fieldPointer(pointer, \.reloads)) }
    /// Bumped whenever the IP block list changes; workers reload their copy when it moves.
    public var blocksEpoch: UInt64 { jade_load_u64(fieldPointer(pointer, \.blocks_epoch)) }
    public func bumpBlocksEpoch() { _ = jade_add_u64(fieldPointer(pointer, \.blocks_epoch), 1) }
    public func noteReload() { _ = jade_add_u64(fieldPointer(pointer, \.reloads), 1) }
}

/// One worker's record in shared memory.
// @unchecked Sendable: a pointer into shared memory: every field through C atomics.
public struct WorkerRecord: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<jade_worker_record_t>
    /// Position in the record table.
    public let index: Int

    public var pid: Int32 {
        get { jade_load_i32(fieldPointer(pointer, \.pid)) }
        nonmutating set { jade_store_i32(fieldPointer(pointer, \.pid), newValue) }
    }
    public var slot: UInt32 {
        get { jade_load_u32(fieldPointer(pointer, \.slot)) }
        nonmutating set { jade_store_u32(fieldPointer(pointer, \.slot), newValue) }
    }
    public var generation: UInt32 {
        get { jade_load_u32(fieldPointer(pointer, \.generation)) }
        nonmutating set { jade_store_u32(fieldPointer(pointer, \.generation), newValue) }
    }
    public var state: WorkerState {
        get { WorkerState(rawValue: jade_load_u32(fieldPointer(pointer, \.state))) ?? .free }
        nonmutating set { jade_store_u32(fieldPointer(pointer, \.state), newValue.rawValue) }
    }
    /// Monotonic nanoseconds of the worker's last heartbeat.
    public var heartbeatNanoseconds: UInt64 {
        get { jade_load_u64(fieldPointer(pointer, \.heartbeat_ns)) }
        nonmutating set { jade_store_u64(fieldPointer(pointer, \.heartbeat_ns), newValue) }
    }
    public var startedNanoseconds: UInt64 {
        get { jade_load_u64(fieldPointer(pointer, \.started_ns)) }
        nonmutating set { jade_store_u64(fieldPointer(pointer, \.started_ns), newValue) }
    }
    public var inFlight: Int64 { jade_load_i64(fieldPointer(pointer, \.in_flight)) }
    public var requestsTotal: UInt64 { jade_load_u64(fieldPointer(pointer, \.requests_total)) }
    public var connections: UInt64 { jade_load_u64(fieldPointer(pointer, \.connections)) }

    /// Pointers for the hot path, resolved once per worker.
    public var inFlightPointer: UnsafeMutablePointer<Int64> { fieldPointer(pointer, \.in_flight) }
    public var requestsTotalPointer: UnsafeMutablePointer<UInt64> { fieldPointer(pointer, \.requests_total) }
    public var connectionsPointer: UnsafeMutablePointer<UInt64> { fieldPointer(pointer, \.connections) }

    /// Resets the record for a new worker (master only, before spawning).
    public func claim(slot: Int, generation: UInt32) {
        jade_store_i64(fieldPointer(pointer, \.in_flight), 0)
        jade_store_u64(fieldPointer(pointer, \.requests_total), 0)
        jade_store_u64(fieldPointer(pointer, \.connections), 0)
        self.slot = UInt32(slot)
        self.generation = generation
        self.heartbeatNanoseconds = 0
        self.startedNanoseconds = jade_monotonic_ns()
        self.pid = 0
        self.state = .starting
    }

    /// Writes the heartbeat (worker).
    public func beat() { heartbeatNanoseconds = jade_monotonic_ns() }
}

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC, comparable across processes).
public func monotonicNanoseconds() -> UInt64 { jade_monotonic_ns() }

extension SharedSegment {
    /// The global permission epoch (bumped by changes that affect many users).
    public var globalEpoch: UInt64 { jade_load_u64(jade_global_epoch(base)) }
    /// The permission epoch of one user (bucketed by id).
    public func userEpoch(_ userID: Int64) -> UInt64 {
        jade_load_u64(jade_user_epoch(base, UInt64(bitPattern: userID)))
    }
    public func bumpGlobalEpoch() { _ = jade_add_u64(jade_global_epoch(base), 1) }
    /// The C segment, for hot paths in other modules that read its words with the CJadeShm
    /// inline helpers (`jade_load_u64(jade_global_epoch(…))`), and for benchmarks and tests.
    public var cSegment: UnsafeMutablePointer<jade_shm_segment_t> { base }
    /// The vector catalogue epoch: bumped after every vector-store write, by any worker.
    public var catalogueEpoch: UInt64 { jade_load_u64(jade_catalogue_epoch(base)) }
    public func bumpCatalogueEpoch() { _ = jade_add_u64(jade_catalogue_epoch(base), 1) }

    /// Takes one request from the server-wide limit (`rate_limits.global`), shared by every
    /// worker: a lock-free bucket in one word of the header (see `jade_gcra_take`).
    public func takeGlobalLimit(_ rule: RateLimitRule, now: UInt64 = monotonicNanoseconds()) -> RateLimitDecision {
        var result = jade_rl_result_t()
        let burst = Double(rule.burst)
        let rc = jade_gcra_take(jade_global_limit_tat(base), now, rule.rate, burst, &result)
        precondition(rc == 0, "global rate limit: invalid rule \(rule)")
        return RateLimitDecision(result, burst: burst)
    }

    public func bumpUserEpoch(_ userID: Int64) {
        _ = jade_add_u64(jade_user_epoch(base, UInt64(bitPattern: userID)), 1)
    }
}

extension SharedSegment {
    /// The shared circuit breaker state: 0 for reads, 1 for writes.
    public func breakerPointer(_ which: Int) -> UnsafeMutablePointer<jade_breaker_t> {
        jade_breaker(base, Int32(which))
    }
}
