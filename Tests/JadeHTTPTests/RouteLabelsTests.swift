import JadeShared
import NIOHTTP1
import Testing

@testable import JadeHTTP

/// A route declares its metric labels where it is added; its series exist from then on.
@Suite struct RouteLabelsTests {
    @Test func labelsDeclaredWithTheRouteBecomeItsSeries() {
        let registry = MetricsRegistry(privateCapacity: 4096)
        let router = Router(metrics: HTTPMetrics(registry: registry))
        router.add(.POST, "/v1/things", labels: .init(authMethod: "thing_login", countsFailedLogins: true)) { _ in
            .now(.noContent)
        }
        router.add(.PUT, "/v1/things/{id}", labels: .init(userOperation: "thing_update")) { _ in .now(.noContent) }
        router.add(.GET, "/v1/things/{id}") { _ in .now(.noContent) }
        let text = MetricsExposition.renderLocal(registry)
        #expect(text.contains(#"jadevectordb_http_requests_total{route="/v1/things",method="POST",status="2xx"} 0"#))
        #expect(text.contains(#"method="thing_login""#))
        #expect(text.contains(#"jadevectordb_user_operations_total{operation="thing_update"} 0"#))
        #expect(text.contains("jadevectordb_failed_logins_total 0"))
        // A route without labels records only its own series.
        #expect(!text.contains("jadevectordb_vector_search_duration_seconds"))
        guard case .found(let route, _) = router.match(.PUT, "/v1/things/7"[...]) else {
            Issue.record("no route")
            return
        }
        route.metrics?.record(status: 204, nanoseconds: 1000)
        #expect(
            MetricsExposition.renderLocal(registry).contains(
                #"jadevectordb_user_operations_total{operation="thing_update"} 1"#))
    }
}
