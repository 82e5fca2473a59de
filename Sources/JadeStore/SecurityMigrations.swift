import GRDB

/// Schema of blocked client addresses.
enum SecurityMigrations {
    static func register(_ m: inout DatabaseMigrator) {
        m.registerMigration("v4_ip_blocks") { db in
            try db.execute(
                sql: """
                    CREATE TABLE ip_blocks (
                        ip TEXT PRIMARY KEY NOT NULL,
                        until REAL NOT NULL,
                        reason TEXT NOT NULL,
                        created_by TEXT NOT NULL,
                        created_at REAL NOT NULL
                    );
                    """)
        }
    }
}
