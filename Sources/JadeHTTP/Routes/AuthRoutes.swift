import Foundation
import JadeAuth
import JadeCore
import JadeShared
import JadeTransport

/// `/v1/auth/*` and `/v1/api-keys`: registration, login, sessions, password changes and resets,
/// two-factor authentication, API keys.
public struct AuthRoutes: Sendable {
    let auth: AuthServices
    let requestGuard: RequestGuard?
    /// Rendered `/v1/auth/me` answers, stamped with the user's permission epochs: anything that
    /// changes the answer (profile, roles, groups, grants, credentials) bumps them.
    let meCache: LRUCache<MeKey, HTTPResponse>

    /// What a `/v1/auth/me` answer depends on besides the epochs: the user, the credential (an
    /// API key's answer shows its own permissions) and the session's restriction.
    struct MeKey: Hashable {
        let userID: Int64
        let apiKeyID: Int64  // 0 for sessions
        let sessionID: Int64  // 0 for API keys
        let restriction: Principal.Restriction?

        init(_ principal: Principal) {
            userID = principal.userID
            switch principal.credential {
            case .session(let id):
                apiKeyID = 0
                sessionID = id
            case .apiKey(let id, _):
                apiKeyID = id
                sessionID = 0
            }
            restriction = principal.restriction
        }
    }

    public init(auth: AuthServices, requestGuard: RequestGuard? = nil) {
        self.auth = auth
        self.requestGuard = requestGuard
        meCache = LRUCache(capacity: 10_000, ttlSeconds: auth.settings.permissionCacheTTLSeconds)
    }

    /// Takes from `limit`'s bucket; returns the RateLimit-* headers, or throws the 429.
    func limited(_ limit: RequestGuard.Limit, key: String, _ what: String) throws -> [(String, String)] {
        guard let decision = requestGuard?.take(limit, key: key) else { return [] }
        guard decision.allowed else { throw RequestGuard.rejection(decision, what) }
        return RequestGuard.headers(decision)
    }

    public func register(on router: Router) {
        let any: AccessPolicy = .authenticated(allowing: [.passwordExpired, .twoFactorEnrollment])
        router.add(.POST, "/v1/auth/register", labels: .init(authMethod: "register", userOperation: "register")) { r in
            r.blocking { try register(r) }
        }
        router.add(.POST, "/v1/auth/login", labels: .init(authMethod: "login", countsFailedLogins: true)) { r in
            r.blocking { try login(r) }
        }
        router.add(.POST, "/v1/auth/logout", any, labels: .init(authMethod: "logout")) { r in
            r.blocking {
                try auth.authenticator.logout(r.principal!, ip: r.remoteAddress)
                return .noContent
            }
        }
        router.add(.GET, "/v1/auth/me", any) { r in
            let principal = r.principal!
            // A struct key: interpolating the credential enum would go through reflection.
            let key = MeKey(principal)
            if let cached = meCache.value(
                for: key, stamp: auth.epochs.stamp(principal.userID), now: monotonicNanoseconds())
            {
                return .now(cached)
            }
            let stamp = auth.epochs.stamp(principal.userID)
            return r.blocking {
                let response = try me(r)
                meCache.set(response, for: key, stamp: stamp, now: monotonicNanoseconds())
                return response
            }
        }
        router.add(
            .POST, "/v1/auth/password", .account(allowing: [.passwordExpired]),
            labels: .init(authMethod: "password_change", userOperation: "password_change")
        ) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["current_password", "new_password"])
                try auth.accounts.changePassword(
                    r.principal!, current: body.requiredString("current_password", maxBytes: 4096),
                    new: body.requiredString("new_password", maxBytes: 4096), ip: r.remoteAddress)
                return .noContent
            }
        }
        router.add(.POST, "/v1/auth/password-reset/request", labels: .init(authMethod: "password_reset_request")) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["username", "email"])
                let username = try body.string("username", maxBytes: 256)
                let email = try body.string("email", maxBytes: 256)
                guard (username == nil) != (email == nil) else {
                    throw APIError.invalid("Send exactly one of \"username\" or \"email\".")
                }
                // Per address first: an address over its budget creates no per-account bucket.
                _ = try limited(.passwordResetAddress, key: r.remoteAddress ?? "-", "password reset requests")
                let headers = try limited(
                    .passwordReset, key: (username ?? email ?? "").lowercased(),
                    "password reset requests for this account")
                try auth.accounts.requestPasswordReset(username: username, email: email, ip: r.remoteAddress)
                return .json(
                    .object([
                        "status": .string("accepted"),
                        "message": .string("If the account exists, a reset token has been sent."),
                    ]), status: .accepted, headers: headers)
            }
        }
        router.add(
            .POST, "/v1/auth/password-reset/confirm",
            labels: .init(authMethod: "password_reset_confirm", userOperation: "password_reset")
        ) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["token", "new_password"])
                // The address's reset budget first: guessing tokens costs the guesser, not us.
                let headers = try limited(.passwordResetAddress, key: r.remoteAddress ?? "-", "password reset requests")
                try auth.accounts.confirmPasswordReset(
                    token: body.requiredString("token", maxBytes: 256),
                    newPassword: body.requiredString("new_password", maxBytes: 4096), ip: r.remoteAddress)
                return HTTPResponse(status: .noContent, headers: headers)
            }
        }
        let enrolment: AccessPolicy = .account(allowing: [.twoFactorEnrollment])
        router.add(.POST, "/v1/auth/2fa/enroll", enrolment, labels: .init(authMethod: "totp_enroll")) { r in
            r.blocking {
                let uri = try auth.accounts.enrollTOTP(r.principal!, ip: r.remoteAddress)
                return .json(.object(["otpauth_uri": .string(uri)]), status: .created)
            }
        }
        router.add(.POST, "/v1/auth/2fa/verify", enrolment, labels: .init(authMethod: "totp_verify")) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["code"])
                try auth.accounts.verifyTOTP(
                    r.principal!, code: body.requiredString("code", maxBytes: 16), ip: r.remoteAddress)
                return .noContent
            }
        }
        router.add(.DELETE, "/v1/auth/2fa", .account(), labels: .init(authMethod: "totp_disable")) { r in
            r.blocking {
                let body = try JSONBody(r)
                try body.allowOnly(["code"])
                try auth.accounts.disableTOTP(
                    r.principal!, code: body.requiredString("code", maxBytes: 16), ip: r.remoteAddress)
                return .noContent
            }
        }
        router.add(.POST, "/v1/api-keys", .account(), labels: .init(authMethod: "api_key_create")) { r in
            r.blocking { try createKey(r) }
        }
        router.add(.GET, "/v1/api-keys", .account()) { r in
            r.blocking {
                .json(
                    .object([
                        "api_keys": .array(
                            try auth.accounts.listAPIKeys(userID: r.principal!.userID).map(AuthJSON.apiKey))
                    ]
                    ))
            }
        }
        router.add(.DELETE, "/v1/api-keys/{id}", .account(), labels: .init(authMethod: "api_key_revoke")) { r in
            r.blocking {
                guard let id = Int64(r.parameter("id")) else { throw APIError.notFound("No such API key.") }
                let manager = try auth.authorizer.authorize(r.principal!, .usersManage, database: nil)
                try auth.accounts.revokeAPIKey(r.principal!, id: id, mayManageUsers: manager, ip: r.remoteAddress)
                return .noContent
            }
        }
    }

    func register(_ r: RequestContext) throws -> HTTPResponse {
        // The body first: a request that cannot be a registration (wrong type, bad JSON) uses
        // no attempt.
        let body = try JSONBody(r)
        let headers = try limited(.registration, key: r.remoteAddress ?? "-", "registrations from this address")
        try body.allowOnly(["username", "password", "email"])
        let user = try auth.accounts.register(
            username: body.requiredString("username", maxBytes: 64),
            password: body.requiredString("password", maxBytes: 4096),
            email: body.string("email", maxBytes: 254), ip: r.remoteAddress)
        return .json(.object(["user": AuthJSON.user(user)]), status: .created, headers: headers)
    }

    func login(_ r: RequestContext) throws -> HTTPResponse {
        // The body first: a request that cannot be a login (wrong type, bad JSON, unknown
        // fields) guesses no password, so it uses no attempt.
        let body = try JSONBody(r)
        try body.allowOnly(["username", "password", "totp"])
        let username = try body.requiredString("username", maxBytes: 256)
        let password = try body.requiredString("password", maxBytes: 4096)
        let totp = try body.string("totp", maxBytes: 16)
        let headers = try limited(.login, key: r.remoteAddress ?? "-", "login attempts from this address")
        let result: Authenticator.LoginResult
        do {
            result = try auth.authenticator.login(
                username: username, password: password, totp: totp, ip: r.remoteAddress)
        } catch AuthError.unauthenticated {
            requestGuard?.loginFailed(r.clientAddress)
            var error = APIError.from(AuthError.unauthenticated)!
            error.headers += headers
            throw error
        }
        requestGuard?.loginSucceeded(r.clientAddress)
        var fields: [String: JSON] = [
            "token": .string(result.token), "expires_at": AuthJSON.time(result.expiresAt),
            "user": AuthJSON.user(result.user),
        ]
        if let restriction = result.restriction { fields["restriction"] = .string(restriction.rawValue) }
        return .json(.object(fields), headers: [("Cache-Control", "no-store")] + headers)
    }

    func me(_ r: RequestContext) throws -> HTTPResponse {
        let principal = r.principal!
        guard let user = try auth.directory.user(id: principal.userID) else { throw AuthError.unauthenticated }
        var fields: [String: JSON] = [
            "user": AuthJSON.user(user),
            "roles": .array(user.roles.map(JSON.string)),
            "groups": .array(user.groups.map(JSON.string)),
            "permissions": .array(
                try auth.authorizer.globalPermissions(userID: principal.userID).map { .string($0.rawValue) }),
        ]
        switch principal.credential {
        case .session: fields["credential"] = .string("session")
        case .apiKey(let id, _): fields["credential"] = .string("api_key:\(id)")
        }
        if let restriction = principal.restriction { fields["restriction"] = .string(restriction.rawValue) }
        return .json(.object(fields))
    }

    func createKey(_ r: RequestContext) throws -> HTTPResponse {
        let body = try JSONBody(r)
        try body.allowOnly(["name", "expires_in_days", "permissions"])
        let permissions = try body.strings("permissions")?.map(Permission.parse)
        let (key, info) = try auth.accounts.createAPIKey(
            r.principal!, name: body.requiredString("name", maxBytes: 64), expiresInDays: body.int("expires_in_days"),
            permissions: permissions, ip: r.remoteAddress)
        guard case .object(var fields) = AuthJSON.apiKey(info) else { return .json(.null) }
        fields["key"] = .string(key)
        return .json(.object(fields), status: .created, headers: [("Cache-Control", "no-store")])
    }
}
