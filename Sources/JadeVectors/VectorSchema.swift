import GRDB
import JadeStore

/// Schema of the vector databases: the catalogue, one row per vector, and the tombstones that
/// tell other processes which segment rows died since they last looked.
///
/// The vector values themselves live in append-only segment files next to the SQLite database
/// (see JadeVectors); `vector_databases.committed_rows` is the committed length of the current
/// segment file, so bytes past it are never read.
public enum VectorSchema {
    public static let migrations: [Migration] = [
        Migration("v3_vectors", order: 3) { db in
            try db.execute(
                sql: """
                    CREATE TABLE vector_databases (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL UNIQUE,
                        dimension INTEGER NOT NULL CHECK (dimension BETWEEN 1 AND 4096),
                        metric TEXT NOT NULL CHECK (metric IN ('cosine', 'euclidean', 'dot')),
                        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                        generation INTEGER NOT NULL DEFAULT 1,
                        committed_rows INTEGER NOT NULL DEFAULT 0,
                        live_count INTEGER NOT NULL DEFAULT 0,
                        tombstones INTEGER NOT NULL DEFAULT 0,
                        version INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE TABLE vectors (
                        database_id INTEGER NOT NULL REFERENCES vector_databases(id) ON DELETE CASCADE,
                        id TEXT NOT NULL,
                        row INTEGER NOT NULL,
                        norm REAL NOT NULL,
                        metadata TEXT,
                        PRIMARY KEY (database_id, id)
                    );
                    CREATE UNIQUE INDEX vectors_row ON vectors(database_id, row);
                    CREATE TABLE vector_tombstones (
                        database_id INTEGER NOT NULL REFERENCES vector_databases(id) ON DELETE CASCADE,
                        row INTEGER NOT NULL,
                        version INTEGER NOT NULL,
                        PRIMARY KEY (database_id, row)
                    ) WITHOUT ROWID;
                    CREATE INDEX vector_tombstones_version ON vector_tombstones(database_id, version);
                    """)
        },
        Migration("v5_vector_indexes", order: 5) { db in
            try db.execute(
                sql: """
                    ALTER TABLE vector_databases ADD COLUMN index_type TEXT NOT NULL DEFAULT 'flat'
                        CHECK (index_type IN ('flat', 'hnsw'));
                    ALTER TABLE vector_databases ADD COLUMN index_m INTEGER NOT NULL DEFAULT 16;
                    ALTER TABLE vector_databases ADD COLUMN index_ef_construction INTEGER NOT NULL DEFAULT 200;
                    ALTER TABLE vector_databases ADD COLUMN indexed_rows INTEGER NOT NULL DEFAULT 0;
                    """)
        },
    ]
}
