import Logging
import NetrigCommands

// The one logging back end: standard error, at the level the command line chose (debug with --verbose).
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = NetrigLogLevel.current
    return handler
}
await Netrig.entry()
