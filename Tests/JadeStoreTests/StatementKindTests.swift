import Testing

@testable import JadeStore

/// Statement classification for `jadevectordb_db_operations_total{operation}`, from the SQL
/// text SQLite hands the trace hook.
@Suite struct StatementKindTests {
    @Test(arguments: [
        ("SELECT 1", Store.StatementKind.read), ("  select * from t", .read), ("\n(SELECT 1)", .read),
        ("WITH x AS (SELECT 1) SELECT * FROM x", .read), ("PRAGMA journal_mode", .read), ("explain select 1", .read),
        ("VALUES (1)", .read), ("BEGIN DEFERRED TRANSACTION", .transaction), ("commit", .transaction),
        ("END", .transaction), ("ROLLBACK", .transaction), ("SAVEPOINT grdb", .transaction),
        ("RELEASE SAVEPOINT grdb", .transaction), ("INSERT INTO t VALUES (1)", .write),
        ("UPDATE t SET x = 1", .write), ("DELETE FROM t", .write), ("CREATE TABLE t (x)", .write),
        ("SELECTED", .write), ("", .write), ("  ", .write),
    ])
    func classifiesByFirstKeyword(_ sql: String, _ kind: Store.StatementKind) {
        #expect(Store.kind(of: sql) == kind)
    }
}
