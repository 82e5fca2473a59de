import CJadeShm
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The per-address connection slots a worker holds, in memory its master can still read after
/// the worker died: the master gives them back, so a crash never shrinks an address's share
/// of `server.max_connections_per_ip`.
///
/// One memfd per worker, created by the master at spawn and inherited by the worker: an array
/// of `capacity` entries of 16 bytes (a rate-limit key; all zero: free). Only the worker writes
/// it while alive; only the master reads it, once the worker is gone. A worker that dies
/// between taking a slot and writing its entry (or between clearing an entry and giving the
/// slot back) leaks or doubles one slot: a window of a few instructions.
// @unchecked Sendable: a memfd mapping written with C atomics.
public final class ConnectionLedger: @unchecked Sendable {
    /// Bytes per entry.
    public static let entrySize = 16

    /// The memfd (owned: closed on deinit).
    public let fd: Int32
    /// Entries.
    public let capacity: Int
    private let base: UnsafeMutablePointer<UInt64>
    /// Free entry indices (worker side).
    private let free = Mutex<[Int32]>([])

    /// A new, empty ledger of `capacity` entries (the master, before spawning a worker).
    public static func create(capacity: Int) throws -> ConnectionLedger {
        let fd = jade_memfd_zeroed(memfdName, max(1, capacity) * entrySize)
        guard fd >= 0 else {
            throw SharedSegmentError(
                description: "cannot create a connection ledger: \(String(cString: strerror(errno)))")
        }
        return try ConnectionLedger(fd: fd)
    }

    /// The ledger the master passed at fd `fd`, or nil when that descriptor is not one (the
    /// master could not create it): checked by the memfd's name, so that a descriptor the
    /// process opened itself (a database file) is never mapped and written.
    public static func inherited(fd: Int32) -> ConnectionLedger? {
        var target = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard path.hasPrefix("/memfd:\(memfdName) ") || path == "/memfd:\(memfdName)" else { return nil }
        return try? ConnectionLedger(fd: fd)
    }

    static let memfdName = "jadevectordb-connections"

    /// Maps the ledger memfd `fd` (taking ownership of it).
    public init(fd: Int32) throws {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= Self.entrySize else {
            close(fd)
            throw SharedSegmentError(description: "fd \(fd) is not a connection ledger")
        }
        let size = Int(st.st_size)
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            close(fd)
            throw SharedSegmentError(
                description: "cannot map the connection ledger: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        capacity = size / Self.entrySize
        base = p.bindMemory(to: UInt64.self, capacity: capacity * 2)
        free.withLock { $0 = (0..<Int32(capacity)).reversed() }
    }

    deinit {
        munmap(base, capacity * Self.entrySize)
        close(fd)
    }

    /// Records a slot taken under `key`; returns its entry, or nil when the ledger is full (the
    /// slot is then held unrecorded).
    public func record(_ key: RateLimitKey) -> Int? {
        guard let index = free.withLock({ $0.popLast() }) else { return nil }
        let entry = base + Int(index) * 2
        entry[1] = key.raw.check
        entry[0] = key.raw.primary  // a key of two zero words (chance 2^-128) would read as free
        return Int(index)
    }

    /// Clears entry `index` (the slot is about to be given back).
    public func clear(_ index: Int) {
        precondition(index >= 0 && index < capacity)
        let entry = base + index * 2
        entry[0] = 0
        entry[1] = 0
        free.withLock { $0.append(Int32(index)) }
    }

    /// The keys of every slot still recorded (the master, after the worker exited).
    public func recordedKeys() -> [RateLimitKey] {
        var keys: [RateLimitKey] = []
        for i in 0..<capacity {
            let entry = base + i * 2
            guard entry[0] != 0 || entry[1] != 0 else { continue }
            keys.append(RateLimitKey(jade_rl_key_t(primary: entry[0], check: entry[1])))
        }
        return keys
    }
}
