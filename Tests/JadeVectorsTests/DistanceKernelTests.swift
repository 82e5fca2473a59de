import Testing

@testable import JadeVectors

@Suite struct DistanceKernelTests {
    static let dimensions = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 100, 127, 128, 129, 257, 1001]

    @Test(arguments: dimensions) func kernelsMatchDoubleReference(dimension n: Int) {
        var rng = SeededRandom(seed: UInt64(n))
        for _ in 0..<8 {
            // One extra float in front so that `a` starts at an address that is only 4-byte aligned.
            let a = rng.floats(n + 1)
            let b = rng.floats(n)
            var dot = 0.0, l2 = 0.0, magnitude = 0.0
            for i in 0..<n {
                let x = Double(a[i + 1]), y = Double(b[i])
                dot += x * y
                l2 += (x - y) * (x - y)
                magnitude += abs(x * y)
            }
            a.withUnsafeBytes { pa in
                b.withUnsafeBytes { pb in
                    let d = DistanceKernels.dot(pa.baseAddress! + 4, pb.baseAddress!, count: n)
                    let s = DistanceKernels.squaredL2(pa.baseAddress! + 4, pb.baseAddress!, count: n)
                    #expect(abs(Double(d) - dot) <= 1e-5 * max(1, magnitude), "dot, dimension \(n)")
                    #expect(abs(Double(s) - l2) <= 1e-5 * max(1, l2), "squared L2, dimension \(n)")
                }
            }
        }
    }

    @Test func normIsInDoublePrecision() {
        #expect(DistanceKernels.norm([3, 4]) == 5)
        #expect(DistanceKernels.norm([0, 0, 0]) == 0)
    }

    /// The euclidean scan compares squared distances against a bound derived from the heap's
    /// worst distance: no squared distance whose root rounds to at most that distance may fall past it.
    @Test func euclideanBoundAdmitsEveryTie() {
        var rng = SeededRandom(seed: 5)
        for _ in 0..<2000 {
            let s = Float.random(in: 1e-3...1e3, using: &rng)
            let bound = EuclideanScorer.rawBound(score: s)
            var d2 = (s * s).nextDown.nextDown.nextDown
            for _ in 0..<12 {
                if d2.squareRoot() <= s { #expect(d2 <= bound, "s \(s) d2 \(d2)") }
                d2 = d2.nextUp
            }
            #expect(bound.squareRoot() >= s)
        }
        #expect(EuclideanScorer.rawBound(score: .infinity) == .infinity)
    }
}
