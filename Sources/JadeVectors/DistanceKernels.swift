/// The inner loops of search: dot product and squared euclidean distance over float32 rows,
/// eight lanes at a time with four independent accumulators, and a scalar tail for dimensions
/// that are not a multiple of eight. Pointers may be unaligned (rows of odd dimension follow
/// each other in the segment file).
enum DistanceKernels {
    /// Σ a[i]·b[i]
    @inline(__always)
    static func dot(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count n: Int) -> Float {
        typealias V = SIMD8<Float>
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        var o = 0
        let end32 = (n & ~31) &* 4
        while o < end32 {
            s0 += a.loadUnaligned(fromByteOffset: o, as: V.self) * b.loadUnaligned(fromByteOffset: o, as: V.self)
            s1 +=
                a.loadUnaligned(fromByteOffset: o &+ 32, as: V.self)
                * b.loadUnaligned(fromByteOffset: o &+ 32, as: V.self)
            s2 +=
                a.loadUnaligned(fromByteOffset: o &+ 64, as: V.self)
                * b.loadUnaligned(fromByteOffset: o &+ 64, as: V.self)
            s3 +=
                a.loadUnaligned(fromByteOffset: o &+ 96, as: V.self)
                * b.loadUnaligned(fromByteOffset: o &+ 96, as: V.self)
            o &+= 128
        }
        let end8 = (n & ~7) &* 4
        while o < end8 {
            s0 += a.loadUnaligned(fromByteOffset: o, as: V.self) * b.loadUnaligned(fromByteOffset: o, as: V.self)
            o &+= 32
        }
        var sum = horizontalSum((s0 + s1) + (s2 + s3))
        let end = n &* 4
        while o < end {
            sum +=
                a.loadUnaligned(fromByteOffset: o, as: Float.self) * b.loadUnaligned(fromByteOffset: o, as: Float.self)
            o &+= 4
        }
        return sum
    }

    /// Σ (a[i] − b[i])²
    @inline(__always)
    static func squaredL2(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count n: Int) -> Float {
        typealias V = SIMD8<Float>
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        var o = 0
        let end32 = (n & ~31) &* 4
        while o < end32 {
            let d0 = a.loadUnaligned(fromByteOffset: o, as: V.self) - b.loadUnaligned(fromByteOffset: o, as: V.self)
            let d1 =
                a.loadUnaligned(fromByteOffset: o &+ 32, as: V.self)
                - b.loadUnaligned(fromByteOffset: o &+ 32, as: V.self)
            let d2 =
                a.loadUnaligned(fromByteOffset: o &+ 64, as: V.self)
                - b.loadUnaligned(fromByteOffset: o &+ 64, as: V.self)
            let d3 =
                a.loadUnaligned(fromByteOffset: o &+ 96, as: V.self)
                - b.loadUnaligned(fromByteOffset: o &+ 96, as: V.self)
            s0 += d0 * d0
            s1 += d1 * d1
            s2 += d2 * d2
            s3 += d3 * d3
            o &+= 128
        }
        let end8 = (n & ~7) &* 4
        while o < end8 {
            let d = a.loadUnaligned(fromByteOffset: o, as: V.self) - b.loadUnaligned(fromByteOffset: o, as: V.self)
            s0 += d * d
            o &+= 32
        }
        var sum = horizontalSum((s0 + s1) + (s2 + s3))
        let end = n &* 4
        while o < end {
            let d =
                a.loadUnaligned(fromByteOffset: o, as: Float.self) - b.loadUnaligned(fromByteOffset: o, as: Float.self)
            sum += d * d
            o &+= 4
        }
        return sum
    }

    /// The sum of the lanes, halving the vector each step: a third of the instructions that
    /// `SIMD8.sum()` compiles to, which matters for short rows.
    @inline(__always)
    static func horizontalSum(_ v: SIMD8<Float>) -> Float {
        let four = v.lowHalf + v.highHalf
        let two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }

    /// Euclidean norm, accumulated in double precision (stored once per vector).
    static func norm(_ values: [Float]) -> Double {
        var s = 0.0
        for v in values { s += Double(v) * Double(v) }
        return s.squareRoot()
    }

    /// Euclidean norm of `count` floats at `values` (unaligned), accumulated in double precision.
    static func norm(_ values: UnsafeRawPointer, count: Int) -> Double {
        var s = 0.0
        for i in 0..<count {
            let v = Double(values.loadUnaligned(fromByteOffset: i &* 4, as: Float.self))
            s += v * v
        }
        return s.squareRoot()
    }
}
