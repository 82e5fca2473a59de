import ArgumentParser
import Foundation
import JadeSupervisor
import JadeWorker

#if canImport(Glibc)
    import Glibc
#endif

/// Routes the process: the hidden `worker` role to the worker, everything else to the CLI.
public enum JadeEntry {
    public static func main(_ arguments: [String]) -> Never {
        // Whatever the caller's umask: files are never readable by others (the database, its
        // WAL and shared-memory files, vectors, backups, the bootstrap password). 0640 at most.
        umask(0o027)
        // Block the handled signals before any thread exists; master and worker take them
        // synchronously (sigtimedwait / sigwait).
        var set = sigset_t()
        sigemptyset(&set)
        for s in Arbiter.handledSignals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)

        if arguments.count > 1 && arguments[1] == "worker" {
            runWorker(Array(arguments.dropFirst(2)))
        }
        do {
            var command = try JadeCommand.parseAsRoot(Array(arguments.dropFirst()))
            try command.run()
            exit(0)
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch {
            let code = JadeCommand.exitCode(for: error)
            let message = JadeCommand.fullMessage(for: error)
            if code == .success {
                print(message)
                Glibc.exit(0)
            }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            // Usage errors exit with 2, like invalid configuration (exit codes: README).
            Glibc.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }

    private static func runWorker(_ arguments: [String]) -> Never {
        var record: Int?
        var masterPID: Int32?
        var i = 0
        while i + 1 < arguments.count {
            switch arguments[i] {
            case "--record": record = Int(arguments[i + 1])
            case "--master-pid": masterPID = Int32(arguments[i + 1])
            default: break
            }
            i += 2
        }
        guard let record, let masterPID else {
            FileHandle.standardError.write(
                Data("jadevectordb worker is started by the master (jadevectordb serve), not by hand\n".utf8))
            exit(2)
        }
        WorkerMain.run(record: record, masterPID: masterPID)
    }
}
