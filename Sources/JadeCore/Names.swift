/// Name rules shared by every module (checked byte by byte: no regular-expression corner cases
/// such as `$` matching before a trailing newline).
public enum Names {
    /// `^[a-zA-Z0-9_-]{1,64}$`: vector database names (docs/openapi.yaml).
    public static func isDatabaseName(_ name: String) -> Bool { check(name, extra: "_-") }

    /// True when `name` is 1 to `maximumLength` bytes of ASCII letters, digits and `extra`.
    public static func check(_ name: String, extra: String, maximumLength: Int = 64) -> Bool {
        let utf8 = name.utf8
        guard (1...maximumLength).contains(utf8.count) else { return false }
        let allowed = Set(extra.utf8)
        return utf8.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || allowed.contains(b)
        }
    }
}
