import Logging
import Synchronization

/// The level netrig's loggers start at: info, or debug with `--verbose`. The executable's log handler
/// (main.swift) reads it as each logger is made; the command line is parsed (`GlobalOptions.validate`)
/// before any command runs, so before any adapter makes its logger.
public enum NetrigLogLevel {
    private static let storage = Mutex<Logger.Level>(.info)

    public static var current: Logger.Level {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}
