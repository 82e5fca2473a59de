import Foundation
import GRDB
import Testing

@testable import JadeStore

/// Migrations kept by several modules, assembled into one schema.
@Suite struct SchemaTests {
    func table(_ name: String, order: Int) -> Migration {
        Migration("v\(order)_\(name)", order: order) { db in try db.execute(sql: "CREATE TABLE \(name) (x)") }
    }

    @Test func partsAreAppliedInOrderWhateverTheirListing() throws {
        let schema = Schema([table("c", order: 3)], Schema.foundation, [table("b", order: 2), table("d", order: 4)])
        #expect(schema.known == ["v1_foundation", "v2_b", "v3_c", "v4_d"])
        let queue = try DatabaseQueue()
        try schema.migrator.migrate(queue)
        let applied = try queue.read { db in try schema.migrator.appliedMigrations(db) }
        #expect(applied == schema.known)
    }

    /// A database that has a migration the running build does not know was written by a newer
    /// build: refused rather than served with a schema the build does not understand.
    @Test func aDatabaseFromANewerBuildIsRecognized() throws {
        let newer = Schema(Schema.foundation, [table("b", order: 2)])
        let older = Schema(Schema.foundation)
        let queue = try DatabaseQueue()
        try newer.migrator.migrate(queue)
        #expect(try queue.read { db in try older.migrator.hasBeenSuperseded(db) })
        #expect(try !queue.read { db in try newer.migrator.hasBeenSuperseded(db) })
    }
}
