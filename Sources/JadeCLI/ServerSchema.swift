import JadeAuth
import JadeStore
import JadeVectors

/// The server's database schema: the store's own tables, then each module's, in the order
/// their migrations were written (`v1_foundation`, `v2_auth`, `v3_vectors`, `v4_ip_blocks`).
/// A module adds a migration to its own list with the next free order.
enum ServerSchema {
    static let full = Schema(Schema.foundation, AuthSchema.migrations, VectorSchema.migrations)
}
