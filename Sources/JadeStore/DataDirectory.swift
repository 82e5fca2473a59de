import CJadeShm
import Foundation

/// Problems with the data directory found before anything starts.
public struct DataDirectoryError: Error, CustomStringConvertible {
    public let description: String
}

/// Checks and prepares the data directory: it must exist (it is created if missing), be a
/// writable directory, and not live on a network filesystem (SQLite's locking is unreliable there).
public enum DataDirectory {
    /// What `prepare` would refuse, found without creating anything (`check-config`): an
    /// existing path that is not a writable local directory, or a missing one whose nearest
    /// existing parent is not a writable directory. Nil when `prepare` should succeed.
    public static func problem(_ path: String) -> String? {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { return "storage.data_dir \(path) exists and is not a directory" }
            guard access(path, W_OK | X_OK) == 0 else {
                return "storage.data_dir \(path) is not writable by uid \(getuid())"
            }
            if jade_is_network_filesystem(path) == 1 {
                return "storage.data_dir \(path) is on a network filesystem; SQLite's WAL mode needs a local disk"
            }
            return nil
        }
        var parent = (path as NSString).deletingLastPathComponent
        if parent.isEmpty { parent = "." }
        while !FileManager.default.fileExists(atPath: parent, isDirectory: &isDir) {
            let next = (parent as NSString).deletingLastPathComponent
            if next == parent || next.isEmpty { break }
            parent = next
        }
        guard isDir.boolValue, access(parent, W_OK | X_OK) == 0 else {
            return
                "storage.data_dir \(path) cannot be created: \(parent) is not a directory writable by uid \(getuid())"
        }
        return nil
    }

    public static func prepare(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw DataDirectoryError(description: "storage.data_dir \(path) exists and is not a directory")
            }
        } else {
            do {
                try FileManager.default.createDirectory(
                    atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            } catch {
                throw DataDirectoryError(
                    description: "storage.data_dir \(path) cannot be created: \(error.localizedDescription)")
            }
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw DataDirectoryError(description: "storage.data_dir \(path) is not writable by uid \(getuid())")
        }
        switch jade_is_network_filesystem(path) {
        case 1:
            throw DataDirectoryError(
                description:
                    "storage.data_dir \(path) is on a network filesystem; SQLite's WAL mode needs a local disk")
        case -1:
            throw DataDirectoryError(
                description: "storage.data_dir \(path) cannot be inspected: \(String(cString: strerror(errno)))")
        default: break
        }
    }
}
