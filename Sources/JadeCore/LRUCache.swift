import Foundation
import Synchronization

/// A bounded least-recently-used map with per-entry expiry and hit/miss/eviction counters.
/// Thread-safe (one short lock per operation). Entries carry an `EpochStamp`; a lookup with a
/// different current stamp is a miss and drops the entry.
///
/// The lookup and store paths are `@inlinable`: every user is in another module, and unspecialized
/// generic code there made a cached permission check cost 155 ns instead of 38 ns
/// (`scripts/bench-auth.sh`).
// @unchecked Sendable: all state behind `lock`.
public final class LRUCache<Key: Hashable, Value>: @unchecked Sendable {
    @usableFromInline struct Node {
        @usableFromInline var key: Key
        @usableFromInline var value: Value
        @usableFromInline var stamp: EpochStamp
        @usableFromInline var expiresAt: UInt64
        @usableFromInline var prev: Int32
        @usableFromInline var next: Int32

        @usableFromInline init(key: Key, value: Value, stamp: EpochStamp, expiresAt: UInt64, prev: Int32, next: Int32) {
            self.key = key
            self.value = value
            self.stamp = stamp
            self.expiresAt = expiresAt
            self.prev = prev
            self.next = next
        }
    }

    /// Everything mutable, behind one pointer: accesses through it are not subject to the
    /// runtime's dynamic exclusivity checks on class properties (half the cost of a hit), and
    /// `lock` serializes them anyway.
    @usableFromInline struct State {
        @usableFromInline var index: [Key: Int32] = [:]
        @usableFromInline var nodes: [Node] = []
        @usableFromInline var head: Int32 = -1  // most recent
        @usableFromInline var tail: Int32 = -1  // least recent
        @usableFromInline var free: [Int32] = []
        @usableFromInline var hits: UInt64 = 0
        @usableFromInline var misses: UInt64 = 0
        @usableFromInline var evictions: UInt64 = 0

        @usableFromInline init() {}
    }

    public let capacity: Int
    public let ttlNanoseconds: UInt64
    @usableFromInline let state: UnsafeMutablePointer<State>
    /// A futex-based lock (an atomic compare-and-swap when uncontended).
    @usableFromInline let lock = Mutex<Void>(())

    public var hits: UInt64 { lock.withLock { _ in state.pointee.hits } }
    public var misses: UInt64 { lock.withLock { _ in state.pointee.misses } }
    public var evictions: UInt64 { lock.withLock { _ in state.pointee.evictions } }

    public init(capacity: Int, ttlSeconds: Int) {
        self.capacity = max(0, capacity)
        self.ttlNanoseconds = UInt64(max(0, ttlSeconds)) * 1_000_000_000
        state = .allocate(capacity: 1)
        state.initialize(to: State())
        state.pointee.index.reserveCapacity(min(self.capacity, 1 << 16))
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    public var count: Int { lock.withLock { _ in state.pointee.index.count } }

    /// The value for `key` when present, unexpired and stamped with `stamp`.
    @inlinable
    public func value(for key: Key, stamp: EpochStamp, now: UInt64) -> Value? {
        value(for: key, now: now) { _ in stamp }
    }

    /// The value for `key` when present, unexpired and stamped with `currentStamp(value)`: for
    /// entries whose stamp depends on the value (a credential's user is known once found). One
    /// lookup; `currentStamp` runs under the lock and must be cheap (epoch reads).
    @inlinable @inline(__always)
    public func value(for key: Key, now: UInt64, currentStamp: (Value) -> EpochStamp) -> Value? {
        return lock.withLock { _ in
            guard let i = state.pointee.index[key] else {
                state.pointee.misses &+= 1
                return nil
            }
            // Read the fields in place: copying the node would retain and release its key.
            let valid = state.pointee.nodes.withUnsafeBufferPointer { n in
                n[Int(i)].expiresAt > now && n[Int(i)].stamp == currentStamp(n[Int(i)].value)
            }
            guard valid else {
                remove(i)
                state.pointee.misses &+= 1
                return nil
            }
            if state.pointee.head != i { moveToFront(i) }
            state.pointee.hits &+= 1
            return state.pointee.nodes[Int(i)].value
        }
    }

    /// Stores `value` stamped with `stamp` (taken before the value was computed), for the
    /// cache's TTL or `lifetime` nanoseconds, whichever ends first: a value that expires on its
    /// own (a session, a key with an expiry) is never served past that moment.
    @inlinable
    public func set(_ value: Value, for key: Key, stamp: EpochStamp, now: UInt64, lifetime: UInt64 = .max) {
        guard capacity > 0, ttlNanoseconds > 0, lifetime > 0 else { return }
        lock.withLock { _ in
            let expiresAt = now + min(ttlNanoseconds, lifetime)
            if let i = state.pointee.index[key] {
                state.pointee.nodes[Int(i)].value = value
                state.pointee.nodes[Int(i)].stamp = stamp
                state.pointee.nodes[Int(i)].expiresAt = expiresAt
                moveToFront(i)
                return
            }
            if state.pointee.index.count >= capacity, state.pointee.tail >= 0 {
                remove(state.pointee.tail)
                state.pointee.evictions &+= 1
            }
            let node = Node(
                key: key, value: value, stamp: stamp, expiresAt: expiresAt, prev: -1, next: state.pointee.head)
            let i: Int32
            if let reused = state.pointee.free.popLast() {
                i = reused
                state.pointee.nodes[Int(i)] = node
            } else {
                i = Int32(state.pointee.nodes.count)
                state.pointee.nodes.append(node)
            }
            if state.pointee.head >= 0 { state.pointee.nodes[Int(state.pointee.head)].prev = i }
            state.pointee.head = i
            if state.pointee.tail < 0 { state.pointee.tail = i }
            state.pointee.index[key] = i
        }
    }

    /// Drops every entry.
    public func removeAll() {
        lock.withLock { _ in
            state.pointee.index.removeAll(keepingCapacity: true)
            state.pointee.nodes.removeAll(keepingCapacity: true)
            state.pointee.free.removeAll()
            state.pointee.head = -1
            state.pointee.tail = -1
        }
    }

    @usableFromInline func unlink(_ i: Int32) {
        let prev = state.pointee.nodes[Int(i)].prev
        let next = state.pointee.nodes[Int(i)].next
        if prev >= 0 { state.pointee.nodes[Int(prev)].next = next } else { state.pointee.head = next }
        if next >= 0 { state.pointee.nodes[Int(next)].prev = prev } else { state.pointee.tail = prev }
    }

    @usableFromInline func moveToFront(_ i: Int32) {
        guard state.pointee.head != i else { return }
        unlink(i)
        state.pointee.nodes[Int(i)].prev = -1
        state.pointee.nodes[Int(i)].next = state.pointee.head
        if state.pointee.head >= 0 { state.pointee.nodes[Int(state.pointee.head)].prev = i }
        state.pointee.head = i
        if state.pointee.tail < 0 { state.pointee.tail = i }
    }

    @usableFromInline func remove(_ i: Int32) {
        unlink(i)
        state.pointee.index.removeValue(forKey: state.pointee.nodes[Int(i)].key)
        state.pointee.free.append(i)
    }
}

/// The stamp a cached entry carries: both epochs as read before the database was consulted.
public struct EpochStamp: Equatable, Sendable {
    public let global: UInt64
    public let user: UInt64

    public init(global: UInt64, user: UInt64) {
        self.global = global
        self.user = user
    }
}
