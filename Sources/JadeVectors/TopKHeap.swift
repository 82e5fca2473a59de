/// The best `k` (score, row) pairs seen so far, in a binary heap whose root is the worst kept
/// entry. "Better" is a higher score or a lower one depending on the metric; equal scores are
/// ordered by id ascending through `idLess`, so answers do not depend on scan order.
struct TopKHeap {
    let k: Int
    let higherIsBetter: Bool
    /// Whether row a's id sorts before row b's; consulted only for equal scores.
    let idLess: (Int32, Int32) -> Bool
    private(set) var scores: [Float] = []
    private(set) var rows: [Int32] = []

    init(k: Int, higherIsBetter: Bool, idLess: @escaping (Int32, Int32) -> Bool) {
        self.k = k
        self.higherIsBetter = higherIsBetter
        self.idLess = idLess
        scores.reserveCapacity(k)
        rows.reserveCapacity(k)
    }

    var count: Int { scores.count }
    var isFull: Bool { scores.count == k }
    /// The worst kept score (meaningful once the heap holds an entry).
    var worstScore: Float { scores[0] }

    /// Whether (sa, ra) ranks before (sb, rb).
    @inline(__always)
    func ranksBefore(_ sa: Float, _ ra: Int32, _ sb: Float, _ rb: Int32) -> Bool {
        if sa != sb { return higherIsBetter ? sa > sb : sa < sb }
        return idLess(ra, rb)
    }

    /// Whether a score could enter the heap (ties with the worst kept entry may, by id).
    @inline(__always)
    func admits(_ score: Float) -> Bool {
        guard isFull else { return true }
        return higherIsBetter ? score >= scores[0] : score <= scores[0]
    }

    /// Offers an entry; it is kept if the heap is not full or it ranks before the worst kept one.
    mutating func insert(_ score: Float, _ row: Int32) {
        if scores.count < k {
            scores.append(score)
            rows.append(row)
            siftUp(scores.count - 1)
        } else if ranksBefore(score, row, scores[0], rows[0]) {
            scores[0] = score
            rows[0] = row
            siftDown(0)
        }
    }

    /// The kept entries, best first.
    func sorted() -> [(score: Float, row: Int32)] {
        zip(scores, rows).map { (score: $0.0, row: $0.1) }
            .sorted { ranksBefore($0.score, $0.row, $1.score, $1.row) }
    }

    // The root is the entry that ranks last: a parent never ranks before its children.
    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard ranksBefore(scores[parent], rows[parent], scores[i], rows[i]) else { break }
            scores.swapAt(parent, i)
            rows.swapAt(parent, i)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = scores.count
        while true {
            let l = 2 * i + 1
            guard l < n else { break }
            var worst = l
            let r = l + 1
            if r < n, ranksBefore(scores[l], rows[l], scores[r], rows[r]) { worst = r }
            guard ranksBefore(scores[i], rows[i], scores[worst], rows[worst]) else { break }
            scores.swapAt(i, worst)
            rows.swapAt(i, worst)
            i = worst
        }
    }
}
