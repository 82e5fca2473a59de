/// A backup or restore failure, with a message fit for an operator (printed as is, exit 1).
public struct BackupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
