import Foundation
import GRDB
import JadeCore

/// Client addresses blocked by administrators or by the failed-login policy, in SQLite (every
/// worker reads them when the shared block epoch moves).
public struct IPBlockStore: AuthComponent, Sendable {
    let core: AuthCore

    public init(core: AuthCore) { self.core = core }

    /// A blocked client address.
    public struct IPBlock: Sendable, Equatable {
        public let ip: String
        public let until: TimeInterval
        public let reason: String
        public let createdBy: String
        public let createdAt: TimeInterval
    }

    /// Blocks that have not expired.
    public func activeIPBlocks() throws -> [IPBlock] {
        let time = now
        return try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM ip_blocks WHERE until > ? ORDER BY created_at DESC", arguments: [time]
            )
            .map {
                IPBlock(
                    ip: $0["ip"], until: $0["until"], reason: $0["reason"], createdBy: $0["created_by"],
                    createdAt: $0["created_at"])
            }
        }
    }

    /// Blocks `ip` (normalized) until now + duration, replacing an earlier block; audited.
    @discardableResult
    public func blockIP(_ ip: IPAddress, duration: TimeInterval, reason: String, actor: String, requestIP: String?)
        throws -> IPBlock
    {
        let time = now
        let block = IPBlock(
            ip: ip.description, until: time + duration, reason: reason, createdBy: actor, createdAt: time)
        try pool.write { db in
            try db.execute(sql: "DELETE FROM ip_blocks WHERE until <= ?", arguments: [time])
            try db.execute(
                sql:
                    "INSERT OR REPLACE INTO ip_blocks (ip, until, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [block.ip, block.until, reason, actor, time])
            try audit(
                db, "ip_blocked", actor: actor, ip: requestIP, target: block.ip, outcome: "blocked",
                details: [
                    "reason": .string(reason),
                    "until": .string(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: block.until))),
                ])
        }
        return block
    }

    /// Lifts a block; false when there was none.
    public func unblockIP(_ ip: IPAddress, actor: String, requestIP: String?) throws -> Bool {
        let time = now
        return try pool.write { db in
            try db.execute(sql: "DELETE FROM ip_blocks WHERE ip = ? AND until > ?", arguments: [ip.description, time])
            let removed = db.changesCount > 0
            if removed {
                try audit(db, "ip_unblocked", actor: actor, ip: requestIP, target: ip.description, outcome: "unblocked")
            }
            return removed
        }
    }
}
