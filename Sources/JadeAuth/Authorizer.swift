import Foundation
import GRDB
import JadeCore

/// Key of a cached permission decision: `user_id:database:permission`.
public struct PermissionKey: Hashable, Sendable {
    public let userID: Int64
    public let database: String
    public let permission: Permission
    public let keyID: Int64

    /// Everything folded into one word: the ids and the permission's case (user and key ids stay
    /// far below 2^56; a collision only costs a comparison), and the database name through
    /// `NameHash`, keyed by a per-process secret so that clients cannot pick names that collide.
    public func hash(into hasher: inout Hasher) { hasher.combine(folded) }

    /// What a dictionary asks for: one keyed multiply-mix of the folded word and the table's
    /// seed, instead of seeding and finalizing SipHash on every lookup (the default).
    public func _rawHashValue(seed: Int) -> Int {
        Int(truncatingIfNeeded: NameHash.finish(folded, seed: seed))
    }

    private var folded: UInt64 {
        UInt64(bitPattern: userID) << 3 ^ UInt64(permission.ordinal) ^ UInt64(bitPattern: keyID) << 35
            ^ NameHash.hash(database)
    }

    public static func == (a: PermissionKey, b: PermissionKey) -> Bool {
        a.userID == b.userID && a.keyID == b.keyID && a.permission.ordinal == b.permission.ordinal
            && a.database == b.database
    }
}

/// A keyed 64-bit hash of short strings (database names) in the style of wyhash: 8-byte blocks
/// mixed by 64x64->128-bit multiplication with per-process random secrets, which keep collisions
/// out of clients' reach (the permission cache's keys include names clients choose).
enum NameHash {
    private static let secrets: (UInt64, UInt64, UInt64) = {
        var rng = SystemRandomNumberGenerator()
        // Odd multipliers, so that no secret is zero.
        return (rng.next() | 1, rng.next() | 1, rng.next() | 1)
    }()

    @inline(__always) private static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    static func hash(_ text: String) -> UInt64 {
        if let h = text.utf8.withContiguousStorageIfAvailable({ hash(UnsafeRawBufferPointer($0)) }) { return h }
        return Array(text.utf8).withUnsafeBytes { hash($0) }
    }

    /// The last step for a dictionary: the folded word mixed with the table's seed.
    @inline(__always) static func finish(_ word: UInt64, seed: Int) -> UInt64 {
        let (s0, _, s2) = secrets
        return mix(word ^ UInt64(bitPattern: Int64(seed)) ^ s2, s0)
    }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let (s0, s1, s2) = secrets
        let n = bytes.count
        var h = mix(s0 ^ UInt64(n), s1)
        var i = 0
        while i + 8 <= n {
            h = mix(h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self), s1)
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            for j in i..<n { tail |= UInt64(bytes[j]) << UInt64(8 * (j - i)) }
            h = mix(h ^ tail, s2)
        }
        return mix(h ^ s2, s0)
    }
}

extension Permission {
    /// The case's position (cheap to hash and compare).
    var ordinal: Int {
        switch self {
        case .admin: 0
        case .metricsRead: 1
        case .usersManage: 2
        case .databasesCreate: 3
        case .databaseRead: 4
        case .databaseWrite: 5
        case .databaseAdmin: 6
        }
    }
}

/// Decides whether a principal holds a permission (globally or on one database): from its
/// cache on the event loop, from SQLite otherwise. A decision is cached under the epochs read
/// before its query, so a grant revoked meanwhile is never served from the cache.
public final class Authorizer: AuthComponent, Sendable {
    let core: AuthCore
    let permissionCache: LRUCache<PermissionKey, Bool>

    public init(core: AuthCore) {
        self.core = core
        self.permissionCache = LRUCache(
            capacity: core.settings.permissionCacheSize, ttlSeconds: core.settings.permissionCacheTTLSeconds)
    }

    /// Cache counters for metrics and tests.
    public var permissionCacheStats: (hits: UInt64, misses: UInt64, evictions: UInt64, size: Int) {
        (permissionCache.hits, permissionCache.misses, permissionCache.evictions, permissionCache.count)
    }

    /// The decision from cache only (event-loop fast path); nil on a miss.
    public func cachedDecision(_ principal: Principal, _ permission: Permission, database: String?) -> Bool? {
        let key = PermissionKey(
            userID: principal.userID, database: database ?? "", permission: permission, keyID: keyID(principal))
        return permissionCache.value(for: key, stamp: epochs.stamp(principal.userID), now: monotonicNow())
    }

    func keyID(_ principal: Principal) -> Int64 {
        if case .apiKey(let id, _) = principal.credential { return id }
        return 0
    }

    /// Decides from the database and caches the decision, stamped with the epochs read before
    /// the query (so a change committed meanwhile makes the entry stale, never wrong).
    public func authorize(_ principal: Principal, _ permission: Permission, database: String?) throws -> Bool {
        let stamp = epochs.stamp(principal.userID)
        // One SELECT is its own consistent snapshot: no explicit transaction needed (GRDB's
        // `read` would add BEGIN/COMMIT, about 20 µs here).
        let granted = try pool.unsafeRead { db in try decide(db, principal, permission, database: database) }
        let key = PermissionKey(
            userID: principal.userID, database: database ?? "", permission: permission, keyID: keyID(principal))
        permissionCache.set(granted, for: key, stamp: stamp, now: monotonicNow())
        return granted
    }

    /// The permissions a user holds everywhere (for /v1/auth/me).
    public func globalPermissions(userID: Int64) throws -> [Permission] {
        try pool.read { db in try permissions(db, userID: userID, database: nil) }.sorted { $0.rawValue < $1.rawValue }
    }

    /// Of `databases`, those `principal` may read (one query per database; cached).
    public func readableDatabases(_ principal: Principal, among databases: [String]) throws -> [String] {
        try databases.filter { name in
            if let cached = cachedDecision(principal, .databaseRead, database: name) { return cached }
            return try authorize(principal, .databaseRead, database: name)
        }
    }
}
