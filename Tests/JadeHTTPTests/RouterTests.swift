import JadeCore
import NIOCore
import NIOHTTP1
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

/// A literal segment and a parameter at the same place: the literal first, then the parameter.
@Suite struct RouterLiteralAndParameterTests {
    @Test func aLiteralRouteDoesNotHideAParameterRouteOfAnotherMethod() {
        let router = Router()
        router.add(.GET, "/d/{name}/vectors/{id}") { _ in .now(.noContent) }
        router.add(.DELETE, "/d/{name}/vectors/{id}") { _ in .now(.noContent) }
        router.add(.POST, "/d/{name}/vectors/get") { _ in .now(.noContent) }
        func template(_ method: HTTPMethod, _ path: Substring) -> String? {
            if case .found(let route, _) = router.match(method, path) { return route.template }
            return nil
        }
        #expect(template(.POST, "/d/x/vectors/get") == "/d/{name}/vectors/get")
        #expect(template(.GET, "/d/x/vectors/get") == "/d/{name}/vectors/{id}")
        if case .found(_, let parameters) = router.match(.GET, "/d/x/vectors/get") {
            #expect(parameters == ["name": "x", "id": "get"])
        }
        #expect(template(.HEAD, "/d/x/vectors/get") == "/d/{name}/vectors/{id}")
        guard case .methodNotAllowed(let allowed) = router.match(.PUT, "/d/x/vectors/get") else {
            Issue.record("PUT was not 405")
            return
        }
        // Allow names the methods of the literal path, as the API document lists them.
        #expect(allowed.map(\.rawValue) == ["POST"])
        guard case .notFound = router.match(.GET, "/d/x/vectors/get/more") else {
            Issue.record("a longer path matched")
            return
        }
    }
}
