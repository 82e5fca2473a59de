import Testing

@testable import JadeVectors

@Suite struct TopKHeapTests {
    /// Scores drawn from a handful of values, so that ties are everywhere; ids are not in row order.
    @Test(arguments: [1, 2, 5, 10, 64, 300, 1000])
    func heapAgreesWithFullSort(k: Int) {
        var rng = SeededRandom(seed: UInt64(k) &* 7919)
        let n = 700
        let scores = (0..<n).map { _ in Float(Int.random(in: 0..<12, using: &rng)) / 4 }
        let ids = (0..<n).map { _ in
            "id-\(Int.random(in: 0..<100_000, using: &rng))-\(Int.random(in: 0..<9, using: &rng))"
        }
        for higherIsBetter in [true, false] {
            var heap = TopKHeap(k: k, higherIsBetter: higherIsBetter) { ids[Int($0)] < ids[Int($1)] }
            for r in 0..<n where heap.admits(scores[r]) { heap.insert(scores[r], Int32(r)) }
            let expected = (0..<n).sorted { a, b in
                if scores[a] != scores[b] { return higherIsBetter ? scores[a] > scores[b] : scores[a] < scores[b] }
                return ids[a] < ids[b]
            }.prefix(k)
            let got = heap.sorted()
            #expect(got.map { ids[Int($0.row)] } == expected.map { ids[$0] })
            #expect(got.map(\.score) == expected.map { scores[$0] })
        }
    }

    @Test func admitsTiesWithTheWorstKeptEntry() {
        let ids = ["b", "a", "c"]
        var heap = TopKHeap(k: 1, higherIsBetter: true) { ids[Int($0)] < ids[Int($1)] }
        heap.insert(1, 0)
        #expect(heap.admits(1))
        #expect(!heap.admits(0.5))
        heap.insert(1, 1)  // "a" beats "b" on the tie
        heap.insert(1, 2)  // "c" does not
        #expect(heap.sorted().map(\.row) == [1])
    }
}
