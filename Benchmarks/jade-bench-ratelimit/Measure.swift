import CJadeShm
import JadeShared

/// Per-operation cost of a workload, measured in batches (one clock read per batch, so the timer
/// does not dominate operations of tens of nanoseconds).
struct Measurement {
    /// Nanoseconds per operation of each batch, sorted.
    let perOp: [Double]
    let operations: Int
    let totalNanoseconds: UInt64

    var median: Double { perOp[perOp.count / 2] }
    var p99: Double { perOp[min(perOp.count - 1, perOp.count * 99 / 100)] }
    var mean: Double { Double(totalNanoseconds) / Double(operations) }

    /// One line: label, median, p99, mean (wall time / operations, so it includes lock waits).
    func line(_ label: String) -> String {
        "\(pad(label, 44)) median \(fmt(median))   p99 \(fmt(p99))   mean \(fmt(mean)) ns/op"
    }
}

let batch = 100

/// Runs `body(i)` for i in 0 ..< operations, timing batches of `batch` calls.
@inline(never)
func measure(operations: Int, _ body: (Int) -> Void) -> Measurement {
    var perOp: [Double] = []
    perOp.reserveCapacity(operations / batch + 1)
    let start = jade_monotonic_ns()
    var i = 0
    while i < operations {
        let b0 = jade_monotonic_ns()
        let end = min(i + batch, operations)
        let n = end - i
        while i < end {
            body(i)
            i += 1
        }
        perOp.append(Double(jade_monotonic_ns() - b0) / Double(n))
    }
    let total = jade_monotonic_ns() - start
    return Measurement(perOp: perOp.sorted(), operations: operations, totalNanoseconds: total)
}

func fmt(_ x: Double) -> String {
    let r = (x * 10).rounded() / 10
    return pad(String(r), 7, left: true)
}

func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, n - s.count))
    return left ? fill + s : s + fill
}

/// Spins until CLOCK_MONOTONIC reaches `deadline` (a common start for several processes).
func waitUntil(_ deadline: UInt64) {
    while jade_monotonic_ns() < deadline {}
}
