import Foundation

/// A bounded least-recently-used map with per-entry expiry and hit/miss/eviction counters.
/// Thread-safe (one short lock per operation). Entries carry an `EpochStamp`; a lookup with a
/// different current stamp is a miss and drops the entry.
public final class LRUCache<Key: Hashable, Value>: @unchecked Sendable {
    private struct Node {
        var key: Key
        var value: Value
        var stamp: EpochStamp
        var expiresAt: UInt64
        var prev: Int32
        var next: Int32
    }

    public let capacity: Int
    public let ttlNanoseconds: UInt64
    private var index: [Key: Int32] = [:]
    private var nodes: [Node] = []
    private var head: Int32 = -1  // most recent
    private var tail: Int32 = -1  // least recent
    private var free: [Int32] = []
    private let lock = NSLock()

    public private(set) var hits: UInt64 = 0
    public private(set) var misses: UInt64 = 0
    public private(set) var evictions: UInt64 = 0

    public init(capacity: Int, ttlSeconds: Int) {
        self.capacity = max(0, capacity)
        self.ttlNanoseconds = UInt64(max(0, ttlSeconds)) * 1_000_000_000
        index.reserveCapacity(min(self.capacity, 1 << 16))
    }

    public var count: Int { lock.withLock { index.count } }

    /// The value for `key` when present, unexpired and stamped with `stamp`.
    public func value(for key: Key, stamp: EpochStamp, now: UInt64) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        guard let i = index[key] else {
            misses &+= 1
            return nil
        }
        // Read the fields in place: copying the node would retain and release its key.
        let valid = nodes.withUnsafeBufferPointer { n in
            n[Int(i)].stamp == stamp && n[Int(i)].expiresAt > now
        }
        guard valid else {
            remove(i)
            misses &+= 1
            return nil
        }
        if head != i { moveToFront(i) }
        hits &+= 1
        return nodes[Int(i)].value
    }

    /// The value for `key` regardless of stamp and expiry, without touching recency or
    /// counters (to learn which stamp applies).
    public func peek(_ key: Key) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        return index[key].map { nodes[Int($0)].value }
    }

    /// Counts a miss decided outside the cache.
    public func recordMiss() { lock.withLock { misses &+= 1 } }

    /// Stores `value` stamped with `stamp` (taken before the value was computed).
    public func set(_ value: Value, for key: Key, stamp: EpochStamp, now: UInt64) {
        guard capacity > 0, ttlNanoseconds > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        let expiresAt = now + ttlNanoseconds
        if let i = index[key] {
            nodes[Int(i)].value = value
            nodes[Int(i)].stamp = stamp
            nodes[Int(i)].expiresAt = expiresAt
            moveToFront(i)
            return
        }
        if index.count >= capacity, tail >= 0 {
            remove(tail)
            evictions &+= 1
        }
        let node = Node(key: key, value: value, stamp: stamp, expiresAt: expiresAt, prev: -1, next: head)
        let i: Int32
        if let reused = free.popLast() {
            i = reused
            nodes[Int(i)] = node
        } else {
            i = Int32(nodes.count)
            nodes.append(node)
        }
        if head >= 0 { nodes[Int(head)].prev = i }
        head = i
        if tail < 0 { tail = i }
        index[key] = i
    }

    /// Drops every entry.
    public func removeAll() {
        lock.withLock {
            index.removeAll(keepingCapacity: true)
            nodes.removeAll(keepingCapacity: true)
            free.removeAll()
            head = -1
            tail = -1
        }
    }

    private func unlink(_ i: Int32) {
        let n = nodes[Int(i)]
        if n.prev >= 0 { nodes[Int(n.prev)].next = n.next } else { head = n.next }
        if n.next >= 0 { nodes[Int(n.next)].prev = n.prev } else { tail = n.prev }
    }

    private func moveToFront(_ i: Int32) {
        guard head != i else { return }
        unlink(i)
        nodes[Int(i)].prev = -1
        nodes[Int(i)].next = head
        if head >= 0 { nodes[Int(head)].prev = i }
        head = i
        if tail < 0 { tail = i }
    }

    private func remove(_ i: Int32) {
        unlink(i)
        index.removeValue(forKey: nodes[Int(i)].key)
        free.append(i)
    }
}
