import Testing

@testable import JadeVectors

@Suite struct VectorMetricTests {
    @Test func metricsParse() {
        #expect(VectorMetric(rawValue: "cosine") == .cosine)
        #expect(VectorMetric(rawValue: "manhattan") == nil)
    }
}
