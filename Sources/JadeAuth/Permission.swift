/// A permission, global (`admin`, `metrics:read`, `users:manage`, `databases:create`) or per
/// database (`database:read`, `database:write`, `database:admin`).
public enum Permission: String, Sendable, CaseIterable, Hashable, Codable {
    case admin = "admin"
    case metricsRead = "metrics:read"
    case usersManage = "users:manage"
    case databasesCreate = "databases:create"
    case databaseRead = "database:read"
    case databaseWrite = "database:write"
    case databaseAdmin = "database:admin"

    /// True for the permissions that apply to one database.
    public var isDatabaseScoped: Bool {
        switch self {
        case .databaseRead, .databaseWrite, .databaseAdmin: return true
        default: return false
        }
    }

    /// Whether holding `self` also grants `other`: `admin` grants everything; on a database,
    /// admin grants write, and write grants read.
    public func implies(_ other: Permission) -> Bool {
        if self == other || self == .admin { return true }
        switch (self, other) {
        case (.databaseAdmin, .databaseWrite), (.databaseAdmin, .databaseRead), (.databaseWrite, .databaseRead):
            return true
        default:
            return false
        }
    }

    /// The built-in roles and their permissions (database permissions unscoped: every database).
    public static let builtInRoles: [String: [Permission]] = [
        "admin": [.admin],
        "editor": [.databasesCreate, .databaseRead, .databaseWrite],
        "viewer": [.databaseRead],
    ]
}
