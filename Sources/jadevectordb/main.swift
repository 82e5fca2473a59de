// Entry point. Deliberately synchronous: the master must not start the concurrency pool or any
// thread before it has blocked its signals (threads inherit the mask), and workers are this
// same binary re-executed with `worker` as the first argument.
import JadeCLI

#if canImport(Glibc)
    import Glibc
#endif

JadeEntry.main(CommandLine.arguments)
