import JadeAuth
import JadeStore
import JadeTransport
import JadeVectors
import NIOHTTP1

/// An error answer of the API: status, snake_case code, human message, extra headers.
public struct APIError: Error, Sendable {
    public let status: HTTPResponseStatus
    public let code: String
    public let message: String
    public var headers: [(String, String)] = []

    public init(_ status: HTTPResponseStatus, _ code: String, _ message: String, headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func invalid(_ message: String) -> APIError { APIError(.badRequest, "invalid_request", message) }
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }

    /// 422 `response_too_large`: an answer of `bytes` (or more) over `limit`.
    public static func responseTooLarge(bytes: Int, limit: Int) -> APIError {
        APIError(
            .unprocessableEntity, "response_too_large",
            "The answer would be at least \(bytes) bytes, over the server's limit of \(limit) "
                + "(server.max_response_bytes): ask for fewer results (a lower k or limit) or leave out the values.")
    }

    public var response: HTTPResponse { .error(status, code: code, message: message, headers: headers) }

    /// The API answer for any error a handler may throw.
    public static func from(_ error: Error) -> APIError? {
        if let api = error as? APIError { return api }
        if let down = error as? StoreUnavailable {
            let message =
                down.mode == .readOnly
                ? "The database accepts no writes right now (\(down.reason)); reads still work. Retry later."
                : "The database is unavailable right now (\(down.reason)). Retry later."
            return APIError(
                .serviceUnavailable, down.mode.rawValue, message,
                headers: [("Retry-After", String(down.retryAfterSeconds))])
        }
        if let timeout = error as? QueryTimeout {
            return APIError(
                .serviceUnavailable, "timeout",
                "The request ran past the server's query time limit of \(Int(timeout.limitSeconds)) s (database.query_timeout_seconds) and was stopped. Narrow it (a filter, a lower k) or retry later.",
                headers: [("Retry-After", "1")])
        }
        if let vectors = error as? VectorStoreError {
            switch vectors {
            case .notFound(let what): return APIError(.notFound, "not_found", sentence("\(what) not found"))
            case .conflict(let what): return APIError(.conflict, "conflict", sentence("\(what) already exists"))
            case .invalid(let why): return APIError(.badRequest, "invalid_request", sentence(why))
            case .dimensionMismatch(let expected, let got):
                return APIError(
                    .badRequest, "dimension_mismatch",
                    "The vector has \(got) values; the database's dimension is \(expected).")
            case .storage:
                return APIError(
                    .serviceUnavailable, "unavailable", "The vector store failed to complete the request. Retry later.",
                    headers: [("Retry-After", "1")])
            }
        }
        guard let auth = error as? AuthError else { return nil }
        switch auth {
        case .unauthenticated:
            return APIError(
                .unauthorized, "unauthenticated", "Missing, invalid or expired credentials.",
                headers: [("WWW-Authenticate", "Bearer")])
        case .totpRequired:
            return APIError(.unauthorized, "totp_required", "This account needs a two-factor code: send \"totp\".")
        case .passwordExpired:
            return APIError(
                .forbidden, "password_expired", "The password has expired; change it with POST /v1/auth/password.")
        case .twoFactorEnrollmentRequired:
            return APIError(
                .forbidden, "two_factor_enrollment_required",
                "Administrators must enable two-factor authentication first (POST /v1/auth/2fa/enroll).")
        case .forbidden(let m): return APIError(.forbidden, "forbidden", sentence(m))
        case .notFound(let m): return APIError(.notFound, "not_found", sentence(m))
        case .conflict(let m): return APIError(.conflict, "conflict", sentence(m))
        case .invalid(let m): return APIError(.badRequest, "invalid_request", sentence(m))
        case .weakPassword(let m): return APIError(.unprocessableEntity, "weak_password", sentence(m))
        case .registrationDisabled: return APIError(.forbidden, "forbidden", "Registration is disabled on this server.")
        case .internalFailure: return nil
        }
    }

    static func sentence(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst() + (text.hasSuffix(".") ? "" : ".")
    }
}
