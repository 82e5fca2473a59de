import Foundation
import JadeAuth
import JadeCore
import JadeTransport

/// `/v1/admin/blocked-ips`: list, block and unblock client addresses (admin).
public struct SecurityRoutes: Sendable {
    let requestGuard: RequestGuard
    let ipBlocks: IPBlockStore

    public init(requestGuard: RequestGuard, ipBlocks: IPBlockStore) {
        self.requestGuard = requestGuard
        self.ipBlocks = ipBlocks
    }

    static func json(_ b: IPBlockStore.IPBlock) -> JSON {
        .object([
            "ip": .string(b.ip), "until": AuthJSON.time(b.until), "reason": .string(b.reason),
            "created_by": .string(b.createdBy), "created_at": AuthJSON.time(b.createdAt),
        ])
    }

    public func register(on router: Router) {
        router.add(.GET, "/v1/admin/blocked-ips", .global(.admin)) { r in
            r.blocking { .json(.object(["blocked_ips": .array(try ipBlocks.activeIPBlocks().map(Self.json))])) }
        }
        router.add(.POST, "/v1/admin/blocked-ips", .global(.admin)) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["ip", "duration_seconds", "reason", "force"])
                let text = try body.requiredString("ip", maxBytes: 64)
                guard let ip = IPAddress(text) else { throw APIError.invalid("\"ip\" is not an IPv4 or IPv6 address.") }
                let force = try body.bool("force") ?? false
                // Blocking the address you are calling from locks you out: ask for it explicitly.
                if ip == r.clientAddress, !force {
                    throw APIError(
                        .conflict, "conflict",
                        "\(ip) is the address of this request: blocking it would lock you out. Send \"force\": true "
                            + "to block it anyway.")
                }
                let duration = try body.int("duration_seconds") ?? 3600
                guard (1...31_536_000).contains(duration) else {
                    throw APIError.invalid("\"duration_seconds\" must be from 1 to 31536000.")
                }
                let reason = try body.string("reason", maxBytes: 256) ?? "blocked by an administrator"
                let block = try requestGuard.block(
                    ip, duration: TimeInterval(duration), reason: reason, actor: r.principal!.username,
                    requestIP: r.remoteAddress)
                return .json(.object(["blocked_ip": Self.json(block)]), status: .created)
            }
        }
        router.add(.DELETE, "/v1/admin/blocked-ips/{ip}", .global(.admin)) { r in
            r.blocking {
                guard let ip = IPAddress(r.parameter("ip")) else {
                    throw APIError.invalid("The path does not hold an IPv4 or IPv6 address.")
                }
                guard try requestGuard.unblock(ip, actor: r.principal!.username, requestIP: r.remoteAddress) else {
                    throw APIError.notFound("\(ip) is not blocked.")
                }
                return .noContent
            }
        }
    }
}
