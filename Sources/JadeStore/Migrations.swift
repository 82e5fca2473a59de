import GRDB

/// The schema, as forward-only migrations. The master applies them before workers start; a
/// database written by a newer build is refused.
public enum Migrations {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1_foundation") { db in
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
        AuthMigrations.register(&m)
        VectorMigrations.register(&m)
        SecurityMigrations.register(&m)
        return m
    }

    /// Identifiers of every migration this build knows, oldest first.
    public static var known: [String] { migrator.migrations }
}
