// Cost of one rate-limit decision on the shared table, in one process and with two processes
// deciding at once. Run it through scripts/bench-ratelimit.sh (release build).
//
//   jade-bench-ratelimit [OPERATIONS]          all workloads (default 2,000,000 decisions each)
//   jade-bench-ratelimit --only W OPS          one workload, one process (for profiling)
//   jade-bench-ratelimit --child W OPS P START internal: a second process (fd 3: the segment)
import CJadeShm
import JadeShared

#if canImport(Glibc)
    import Glibc
#endif

let args = CommandLine.arguments

if args.count == 6, args[1] == "--child" {
    // A contending process: attach, wait for the common start, measure, report one line.
    let segment = try SharedSegment.attach(fd: 3)
    let table = try RateLimitTable(segment: segment)
    let workload = Workload(rawValue: args[2])!
    let process = Int(args[4])!
    waitUntil(UInt64(args[5])!)
    let m = workload.run(table, segment: segment, operations: Int(args[3])!, process: process)
    print(m.line("  \(workload.rawValue) [process \(process)]"))
    exit(0)
}

if args.count == 4, args[1] == "--only" {
    // One workload in one process (for profiling).
    let segment = try SharedSegment.create()
    let table = try RateLimitTable(segment: segment)
    print(
        Workload(rawValue: args[2])!.run(table, segment: segment, operations: Int(args[3])!, process: 0).line(args[2]))
    exit(0)
}

let operations = args.count > 1 ? Int(args[1]) ?? 2_000_000 : 2_000_000
let segment = try SharedSegment.create(rateLimitCapacity: RateLimitTable.defaultCapacity)
let table = try RateLimitTable(segment: segment)
let stats = table.statistics
print(
    "rate-limit table: \(stats.capacity) entries, \(stats.stripes) stripes, "
        + "\(stats.regionBytes / 1024) KiB; \(operations) decisions per run; "
        + "\(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs")

print("one process:")
for workload in Workload.allCases {
    _ = workload.run(table, segment: segment, operations: operations / 10, process: 0)  // warm-up
    print(workload.run(table, segment: segment, operations: operations, process: 0).line("  \(workload.rawValue)"))
}

/// Runs `workload` in this process and a spawned copy of this binary at the same time.
func contend(_ workload: Workload) throws {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { fatalError("pipe") }
    let start = jade_monotonic_ns() + 500_000_000
    let argv = ["jade-bench-ratelimit", "--child", workload.rawValue, String(operations), "1", String(start)]
    var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    var pid: pid_t = 0
    let src: [Int32] = [segment.fd, fds[1], 2]
    let dst: [Int32] = [3, 1, 2]
    let rc = jade_spawn("/proc/self/exe", &cargs, environ, src, dst, 3, &pid)
    guard rc == 0 else { fatalError("spawn: \(rc)") }
    close(fds[1])
    waitUntil(start)
    let mine = workload.run(table, segment: segment, operations: operations, process: 0)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fds[0], &buffer, buffer.count)
        if n <= 0 { break }
        output += buffer[0..<n]
    }
    close(fds[0])
    print(mine.line("  \(workload.rawValue) [process 0]"))
    print(String(decoding: output, as: UTF8.self), terminator: "")
}

print("two processes at once (a spawned copy attaches the segment):")
for workload in [Workload.cHot, .cOwnKey, .cManyKeys, .cGlobal] {
    try contend(workload)
}
