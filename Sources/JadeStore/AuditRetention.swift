import Foundation
import GRDB

/// Deletes audit events past their retention (`audit.retention_days`), in batches of short
/// write transactions so that workers' writes wait at most one batch.
public enum AuditRetention {
    /// Rows deleted per transaction.
    static let batch = 5_000

    /// Deletes the events older than `retention` before `now`; returns how many.
    public static func purge(_ pool: ResilientPool, retention: Duration, now: Date = Date()) throws -> Int {
        let cutoff = now.addingTimeInterval(-TimeInterval(retention.components.seconds))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        // The log stores UTC times as strftime('%Y-%m-%dT%H:%M:%fZ'): the same text compares in order.
        let before = formatter.string(from: cutoff)
        var total = 0
        while true {
            let deleted = try pool.write { db -> Int in
                try db.execute(
                    sql:
                        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?)",
                    arguments: [before, batch])
                return db.changesCount
            }
            total += deleted
            if deleted < batch { return total }
        }
    }
}
