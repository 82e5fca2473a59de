import Foundation
import GRDB
import JadeCore

/// The audit log as administrators read it (events are written by each service in the
/// transaction of the change they describe, `AuthComponent.audit`).
public struct AuditTrail: AuthComponent, Sendable {
    let core: AuthCore

    public init(core: AuthCore) { self.core = core }

    /// One security event of the audit log.
    public struct AuditEvent: Sendable, Equatable {
        public let id: Int64
        /// UTC, ISO 8601 with milliseconds.
        public let at: String
        public let type: String
        public let actor: String?
        public let ip: String?
        public let target: String?
        /// `success`, `failure` or `denied`.
        public let outcome: String
        /// A JSON object with the event's details, as stored.
        public let detailsJSON: String?
    }

    /// Security events, newest first.
    public func auditLog(since: String?, limit: Int, type: String?) throws -> [AuditEvent] {
        try pool.read { db in
            var sql = "SELECT id, at, type, actor, ip, target, outcome, details FROM audit_log WHERE 1 = 1"
            var args: [(any DatabaseValueConvertible)?] = []
            if let since {
                sql += " AND at >= ?"
                args.append(since)
            }
            if let type {
                sql += " AND type = ?"
                args.append(type)
            }
            sql += " ORDER BY id DESC LIMIT ?"
            args.append(limit)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { row in
                AuditEvent(
                    id: row["id"], at: row["at"], type: row["type"], actor: row["actor"], ip: row["ip"],
                    target: row["target"], outcome: row["outcome"], detailsJSON: row["details"])
            }
        }
    }
}
