/// Build and protocol facts shared by every module.
public enum JadeVersion {
    /// The server's semantic version, reported by `jadevectordb version`, `/health` and build info.
    public static let current = "0.1.0"
}
