import Foundation
import JadeAuth
import JadeTransport
import NIOHTTP1

/// `/v1/admin/*`: users, roles, groups and the audit log.
public struct AdminRoutes: Sendable {
    let auth: AuthServices

    public init(auth: AuthServices) { self.auth = auth }

    func userID(_ r: RequestContext, _ name: String = "id") throws -> Int64 {
        guard let id = Int64(r.parameter(name)) else { throw APIError.notFound("No such user.") }
        return id
    }

    public func register(on router: Router) {
        let manage: AccessPolicy = .global(.usersManage)
        router.add(.GET, "/v1/admin/users", manage) { r in
            r.blocking { .json(.object(["users": .array(try auth.directory.listUsers().map(AuthJSON.user))])) }
        }
        router.add(.POST, "/v1/admin/users", manage, labels: .init(userOperation: "create")) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["username", "password", "email", "roles"])
                let user = try auth.directory.createUser(
                    username: body.requiredString("username", maxBytes: 64),
                    password: body.requiredString("password", maxBytes: 4096),
                    email: body.string("email", maxBytes: 254),
                    roles: body.strings("roles") ?? [], actor: r.principal!, ip: r.remoteAddress)
                return .json(.object(["user": AuthJSON.user(user)]), status: .created)
            }
        }
        router.add(.GET, "/v1/admin/users/{id}", manage) { r in
            r.blocking {
                guard let user = try auth.directory.user(id: try userID(r)) else {
                    throw APIError.notFound("No such user.")
                }
                return .json(.object(["user": AuthJSON.user(user)]))
            }
        }
        router.add(.PATCH, "/v1/admin/users/{id}", manage, labels: .init(userOperation: "update")) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["active", "email", "password"])
                let email: String?? = body.has("email") ? .some(try body.string("email", maxBytes: 254)) : .none
                let user = try auth.directory.updateUser(
                    id: try userID(r), active: body.bool("active"), email: email,
                    password: body.string("password", maxBytes: 4096), actor: r.principal!, ip: r.remoteAddress)
                return .json(.object(["user": AuthJSON.user(user)]))
            }
        }
        router.add(.DELETE, "/v1/admin/users/{id}", manage, labels: .init(userOperation: "delete")) { r in
            r.blocking {
                try auth.directory.deleteUser(id: try userID(r), actor: r.principal!, ip: r.remoteAddress)
                return .noContent
            }
        }
        for (method, assigned) in [(HTTPMethodName.PUT, true), (.DELETE, false)] {
            router.add(
                method.nio, "/v1/admin/users/{id}/roles/{role}", manage,
                labels: .init(userOperation: assigned ? "role_assign" : "role_remove")
            ) { r in
                r.blocking {
                    try auth.directory.setUserRole(
                        userID: try userID(r), role: r.parameter("role"), assigned: assigned, actor: r.principal!,
                        ip: r.remoteAddress)
                    return .noContent
                }
            }
            router.add(method.nio, "/v1/admin/roles/{role}/permissions/{permission}", .global(.admin)) { r in
                r.blocking {
                    let database = r.queryItems["database"].flatMap { $0.isEmpty ? nil : $0 }
                    try auth.directory.setRolePermission(
                        role: r.parameter("role"), permission: Permission.parse(r.parameter("permission")),
                        database: database, granted: assigned, actor: r.principal!, ip: r.remoteAddress)
                    return .noContent
                }
            }
            router.add(
                method.nio, "/v1/admin/groups/{group}/members/{user_id}", manage,
                labels: .init(userOperation: assigned ? "group_add" : "group_remove")
            ) { r in
                r.blocking {
                    try auth.directory.setGroupMember(
                        group: r.parameter("group"), userID: try userID(r, "user_id"), member: assigned,
                        actor: r.principal!, ip: r.remoteAddress)
                    return .noContent
                }
            }
        }
        router.add(.GET, "/v1/admin/roles", manage) { r in
            r.blocking { .json(.object(["roles": .array(try auth.directory.listRoles().map(AuthJSON.role))])) }
        }
        router.add(.POST, "/v1/admin/roles", .global(.admin)) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["name", "description", "permissions"])
                let name = try body.requiredString("name", maxBytes: 64)
                try auth.directory.createRole(
                    name: name, description: body.string("description", maxBytes: 1024) ?? "",
                    permissions: (body.strings("permissions") ?? []).map(Permission.parse), actor: r.principal!,
                    ip: r.remoteAddress)
                let role = try auth.directory.listRoles().first { $0.name == name }
                return .json(.object(["role": role.map(AuthJSON.role) ?? .null]), status: .created)
            }
        }
        router.add(.GET, "/v1/admin/groups", manage) { r in
            r.blocking {
                .json(
                    .object([
                        "groups": .array(
                            try auth.directory.listGroups().map {
                                .object(["name": .string($0.name), "members": .array($0.members.map { .int(Int($0)) })])
                            })
                    ]))
            }
        }
        router.add(.POST, "/v1/admin/groups", manage) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["name"])
                let name = try body.requiredString("name", maxBytes: 64)
                try auth.directory.createGroup(name: name, actor: r.principal!, ip: r.remoteAddress)
                return .json(
                    .object(["group": .object(["name": .string(name), "members": .array([])])]), status: .created)
            }
        }
        router.add(.GET, "/v1/admin/audit-log", .global(.admin)) { r in
            r.blocking {
                let q = r.queryItems
                var limit = 100
                if let text = q["limit"] {
                    guard let l = Int(text), (1...1000).contains(l) else {
                        throw APIError.invalid("limit must be an integer from 1 to 1000.")
                    }
                    limit = l
                }
                var since: String?
                if let text = q["since"], !text.isEmpty {
                    guard
                        let date = ISO8601DateFormatter().date(from: text)
                            ?? ISO8601DateFormatter.withFractions.date(from: text)
                    else { throw APIError.invalid("since must be an ISO 8601 time such as 2026-01-31T12:00:00Z.") }
                    // The log stores UTC times with milliseconds; compare in that exact form.
                    since = ISO8601DateFormatter.withFractions.string(from: date)
                }
                let events = try auth.auditTrail.auditLog(
                    since: since, limit: limit, type: q["type"].flatMap { $0.isEmpty ? nil : $0 })
                return .json(.object(["events": .array(events.map(AuthJSON.auditEvent))]))
            }
        }
    }
}

/// Methods used in loops over PUT/DELETE pairs.
enum HTTPMethodName {
    case PUT, DELETE
    var nio: NIOHTTP1.HTTPMethod { self == .PUT ? .PUT : .DELETE }
}

extension ISO8601DateFormatter {
    /// ISO8601DateFormatter is documented thread-safe once configured; it is never changed after.
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}
