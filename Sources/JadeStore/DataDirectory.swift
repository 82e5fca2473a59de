import CJadeShm
import Foundation

/// Problems with the data directory found before anything starts.
public struct DataDirectoryError: Error, CustomStringConvertible {
    public let description: String
}

/// Checks and prepares the data directory: it must exist (it is created if missing), be a
/// writable directory, and not live on a network filesystem (SQLite's locking is unreliable there).
public enum DataDirectory {
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
