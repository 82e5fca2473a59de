import Foundation

/// JSON API calls for tests: one fresh connection per call, credentials optional.
struct APIClient {
    let port: Int
    /// The loopback address calls come from (nil: the system's choice, 127.0.0.1).
    var source: String? = nil

    enum Credential {
        case bearer(String)
        case apiKey(String)
    }

    @discardableResult
    func call(
        _ method: String, _ path: String, _ body: [String: Any]? = nil, as credential: Credential? = nil,
        headers extra: [String: String] = [:]
    ) throws -> HTTPReply {
        var headers = extra
        switch credential {
        case .bearer(let token)?: headers["Authorization"] = "Bearer \(token)"
        case .apiKey(let key)?: headers["X-API-Key"] = key
        case nil: break
        }
        var data: Data?
        if let body {
            data = try JSONSerialization.data(withJSONObject: body)
            headers["Content-Type"] = "application/json"
        }
        return try httpRequest(port: port, method, path, headers: headers, body: data, source: source)
    }

    /// Logs in and returns the session token (fails the test on any other answer).
    func login(_ username: String, _ password: String, totp: String? = nil) throws -> String {
        var body: [String: Any] = ["username": username, "password": password]
        if let totp { body["totp"] = totp }
        let reply = try call("POST", "/v1/auth/login", body)
        guard reply.status == 200, let token = reply.json?["token"] as? String else {
            throw TestFailure("login of \(username) failed: \(reply.status) \(reply.text)")
        }
        return token
    }

    /// Calls `path` over fresh connections until every worker slot has answered; returns the
    /// statuses seen per slot (the slot comes from a /health call on the same connection).
    func statusOnEverySlot(_ method: String, _ path: String, as credential: Credential, workers: Int) throws -> [Int:
        Int]
    {
        var seen: [Int: Int] = [:]
        for _ in 0..<400 where seen.count < workers {
            let connection = try HTTPConnection(port: port)
            let health = try connection.request("GET", "/health")
            guard let slot = (health.json?["worker"] as? [String: Any])?["slot"] as? Int else { continue }
            var headers: [String: String] = [:]
            switch credential {
            case .bearer(let token): headers["Authorization"] = "Bearer \(token)"
            case .apiKey(let key): headers["X-API-Key"] = key
            }
            seen[slot] = try connection.request(method, path, headers: headers).status
        }
        guard seen.count == workers else { throw TestFailure("only slots \(seen.keys.sorted()) answered") }
        return seen
    }
}
