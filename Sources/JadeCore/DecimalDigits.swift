/// Passes the decimal ASCII digits of `value` (with a leading `-` when negative) to `body`,
/// from a buffer on the stack: for writers on hot paths that must not build a String.
@inlinable
public func withDecimalDigits<R>(_ value: Int64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    var magnitude = value.magnitude
    var storage: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: a sign and 19 digits fit
    return try withUnsafeMutableBytes(of: &storage) { raw in
        var i = raw.count
        repeat {
            i -= 1
            raw[i] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 {
            i -= 1
            raw[i] = UInt8(ascii: "-")
        }
        return try body(UnsafeRawBufferPointer(rebasing: raw[i...]))
    }
}
