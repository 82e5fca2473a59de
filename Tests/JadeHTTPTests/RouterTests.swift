import JadeCore
import NIOCore
import Testing

@testable import JadeHTTP

@Suite struct RouterTests {
    func makeRouter() -> Router {
        let router = Router()
        let ok: RouteHandler = { _ in .now(.noContent) }
        router.add(.GET, "/health", .open, ok)
        router.add(.GET, "/v1/databases/{name}", .open, ok)
        router.add(.DELETE, "/v1/databases/{name}", .open, ok)
        router.add(.GET, "/v1/databases/{name}/vectors/{id}", .open, ok)
        return router
    }

    @Test func matchesTemplatesAndDecodesParameters() {
        guard case .found(let route, let params) = makeRouter().match(.GET, "/v1/databases/docs/vectors/a%20b")
        else {
            Issue.record("no match")
            return
        }
        #expect(route.template == "/v1/databases/{name}/vectors/{id}")
        #expect(params == ["name": "docs", "id": "a b"])
    }

    @Test func headFallsBackToGetAndWrongMethodsListAllowed() {
        let router = makeRouter()
        if case .found = router.match(.HEAD, "/health") {} else { Issue.record("HEAD should match GET") }
        guard case .methodNotAllowed(let allowed) = router.match(.POST, "/v1/databases/x") else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed.map(\.rawValue) == ["DELETE", "GET", "HEAD"])
        if case .notFound = router.match(.GET, "/v1/nothing") {} else { Issue.record("expected 404") }
        if case .notFound = router.match(.GET, "/v1/databases/%zz") {} else { Issue.record("bad escape is 404") }
    }

    @Test func segmentsAreSplitOnSlashBytes() {
        let router = makeRouter()
        // Repeated and trailing slashes are skipped, as before.
        if case .found = router.match(.GET, "//health/") {} else { Issue.record("//health/ should match") }
        // A combining mark after "/" forms one character with it; the walk steps over the slash
        // byte only, so the mark stays in the segment and nothing matches.
        if case .notFound = router.match(.GET, "/\u{301}health") {} else { Issue.record("expected 404") }
    }

    @Test func cidrMatchingCoversBothFamilies() throws {
        let v4 = try #require(CIDR("10.1.0.0/16"))
        #expect(v4.contains(IPAddress("10.1.2.3")!))
        #expect(!v4.contains(IPAddress("10.2.0.1")!))
        #expect(v4.contains(IPAddress("::ffff:10.1.9.9")!))
        let v6 = try #require(CIDR("fd00::/8"))
        #expect(v6.contains(IPAddress("fd12::1")!))
        #expect(!v6.contains(IPAddress("fe80::1")!))
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("nonsense") == nil)
        #expect(IPAddress("192.168.0.1")!.description == "192.168.0.1")
        #expect(IPAddress("2001:db8::1")!.description == "2001:db8::1")
    }
}
