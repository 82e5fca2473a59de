import GRDB

/// One forward-only schema migration, kept by the module whose tables it creates.
public struct Migration: Sendable {
    /// `vN_what`, recorded in the database once applied; never renamed.
    public let identifier: String
    /// N: the place of the migration among every module's (unique, never reused).
    public let order: Int
    let body: @Sendable (Database) throws -> Void

    public init(_ identifier: String, order: Int, _ body: @escaping @Sendable (Database) throws -> Void) {
        self.identifier = identifier
        self.order = order
        self.body = body
    }
}

/// The schema of a database: the migrations of every module with tables in it, applied in
/// `order`. The master applies it before workers start (``Store/migrate(_:)``); a database
/// written by a newer build (a migration this schema does not know) is refused.
public struct Schema: Sendable {
    /// Oldest first.
    public let migrations: [Migration]

    /// Every migration of `parts`, ordered; two migrations with one order or one identifier are
    /// a programming error.
    public init(_ parts: [Migration]...) {
        let all = parts.flatMap { $0 }.sorted { $0.order < $1.order }
        precondition(Set(all.map(\.order)).count == all.count, "two migrations share an order")
        precondition(Set(all.map(\.identifier)).count == all.count, "two migrations share an identifier")
        migrations = all
    }

    /// The store's own tables: facts about the database itself and the audit log.
    public static let foundation: [Migration] = [
        Migration("v1_foundation", order: 1) { db in
            // Facts about the database itself: creation time, schema generation.
            try db.execute(
                sql: """
                    CREATE TABLE schema_meta (
                        key TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL
                    );
                    INSERT INTO schema_meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
                    CREATE TABLE audit_log (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                        type TEXT NOT NULL,
                        actor TEXT,
                        ip TEXT,
                        target TEXT,
                        outcome TEXT NOT NULL,
                        details TEXT
                    );
                    CREATE INDEX audit_log_at ON audit_log(at);
                    CREATE INDEX audit_log_type_at ON audit_log(type, at);
                    """)
        }
    ]

    var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        for migration in migrations { m.registerMigration(migration.identifier, migrate: migration.body) }
        return m
    }

    /// Identifiers of every migration, oldest first.
    public var known: [String] { migrations.map(\.identifier) }
}
