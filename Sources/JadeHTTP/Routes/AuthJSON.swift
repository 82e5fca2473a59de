import Foundation
import JadeAuth
import JadeCore
import JadeTransport

/// JSON shapes of the authentication API.
enum AuthJSON {
    static func time(_ t: TimeInterval) -> JSON {
        .string(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: t)))
    }

    static func user(_ u: Directory.User) -> JSON {
        .object([
            "id": .int(Int(u.id)), "username": .string(u.username), "email": u.email.map(JSON.string) ?? .null,
            "active": .bool(u.active), "created_at": time(u.createdAt), "totp_enabled": .bool(u.totpEnabled),
            "locked": .bool(u.locked), "roles": .array(u.roles.map(JSON.string)),
            "groups": .array(u.groups.map(JSON.string)),
        ])
    }

    static func apiKey(_ k: Accounts.APIKey) -> JSON {
        .object([
            "id": .int(Int(k.id)), "name": .string(k.name), "prefix": .string(k.prefix),
            "permissions": k.permissions.map { .array($0.map { .string($0.rawValue) }) } ?? .null,
            "created_at": time(k.createdAt), "expires_at": k.expiresAt.map(time) ?? .null,
            "revoked": .bool(k.revoked), "last_used_at": k.lastUsedAt.map(time) ?? .null,
        ])
    }

    static func role(_ r: Directory.Role) -> JSON {
        .object([
            "name": .string(r.name), "builtin": .bool(r.builtIn), "description": .string(r.description),
            "permissions": .array(
                r.permissions.map { p in
                    p.database.map { .string("\(p.permission.rawValue)@\($0)") } ?? .string(p.permission.rawValue)
                }),
        ])
    }

    /// An audit event as the API shows it (`details` parsed back into JSON).
    static func auditEvent(_ event: AuditTrail.AuditEvent) -> JSON {
        var object: [String: JSON] = [
            "id": .int(Int(event.id)), "at": .string(event.at), "type": .string(event.type),
            "outcome": .string(event.outcome),
        ]
        if let actor = event.actor { object["actor"] = .string(actor) }
        if let ip = event.ip { object["ip"] = .string(ip) }
        if let target = event.target { object["target"] = .string(target) }
        if let text = event.detailsJSON, let details = try? JSONValue.parse(Array(text.utf8)) {
            object["details"] = details
        }
        return .object(object)
    }
}

extension Permission {
    /// Parses a permission name from a request, or throws a 400 naming it.
    static func parse(_ name: String) throws -> Permission {
        guard let p = Permission(rawValue: name) else {
            throw APIError.invalid(
                "Unknown permission \"\(name)\"; known: \(Permission.allCases.map(\.rawValue).joined(separator: ", "))."
            )
        }
        return p
    }
}
