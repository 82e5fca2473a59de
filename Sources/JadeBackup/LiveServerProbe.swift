import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Tells whether some process has the SQLite database of a data directory open, without
/// opening it: every connection to a WAL database holds a shared POSIX lock on the
/// "dead-man switch" byte of its `-shm` file for as long as it is open (SQLite's unix VFS,
/// `UNIX_SHM_DMS`, byte 128). A running master and its workers always hold connections, so a
/// held lock means a server (or another SQLite client) is using the directory.
public enum LiveServerProbe {
    /// Offset of the dead-man-switch lock byte in the `-shm` file (os_unix.c: UNIX_SHM_DMS).
    static let deadManSwitchByte: off_t = 128

    /// Pid of a process holding `<databasePath>-shm` open through SQLite, or nil when none does
    /// (or there is no `-shm` file at all).
    public static func holder(ofDatabase databasePath: String) -> pid_t? {
        let fd = open(databasePath + "-shm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = deadManSwitchByte
        lock.l_len = 1
        guard fcntl(fd, F_GETLK, &lock) == 0 else { return nil }
        return lock.l_type == Int16(F_UNLCK) ? nil : lock.l_pid
    }
}
