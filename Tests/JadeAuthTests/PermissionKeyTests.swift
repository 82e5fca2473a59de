import Testing

@testable import JadeAuth

/// The permission cache's key: equal keys hash alike, and names that differ anywhere (the
/// 8-byte blocks, the tail, the length) hash apart.
@Suite struct PermissionKeyTests {
    @Test func equalNamesHashAlikeAndDifferentNamesApart() {
        let names = [
            "", "a", "b", "ab", "ba", "docs", "docs2", "docs-archive", "docs-archivf", "abcdefgh", "abcdefghi",
            "abcdefgh\u{0}", String(repeating: "x", count: 64), String(repeating: "x", count: 63) + "y",
        ]
        var seen: [UInt64: String] = [:]
        for name in names {
            let h = NameHash.hash(name)
            #expect(seen[h] == nil, "\(name) collides with \(seen[h] ?? "")")
            seen[h] = name
            // The same bytes from another string storage (a heap copy of a small string).
            #expect(NameHash.hash(String(decoding: Array(name.utf8), as: UTF8.self)) == h)
        }
    }

    @Test func keysBehaveInSetsAndDictionaries() {
        func key(_ user: Int64, _ db: String, _ p: Permission, _ keyID: Int64 = 0) -> PermissionKey {
            PermissionKey(userID: user, database: db, permission: p, keyID: keyID)
        }
        var set: Set<PermissionKey> = []
        for user: Int64 in 1...20 {
            for db in ["", "docs", "images", "a-much-longer-database-name"] {
                for p in [Permission.databaseRead, .databaseWrite, .admin] {
                    set.insert(key(user, db, p))
                    set.insert(key(user, db, p, 7))
                }
            }
        }
        #expect(set.count == 20 * 4 * 3 * 2)
        #expect(set.contains(key(3, "docs", .databaseWrite)))
        #expect(!set.contains(key(3, "docs", .databaseWrite, 8)))
        #expect(!set.contains(key(21, "docs", .databaseWrite)))
        #expect(!set.contains(key(3, "docs2", .databaseWrite)))
    }
}
