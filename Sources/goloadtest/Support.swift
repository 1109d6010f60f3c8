import ArgumentParser
import Foundation
import Logging
import Synchronization

/// Where reports and console replies go: stdout, unbuffered so pipes see them at once.
enum Output {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func line(_ text: String) {
        write(text.hasSuffix("\n") ? text : text + "\n")
    }

    /// A line for the operator on stderr.
    static func note(_ message: String) {
        FileHandle.standardError.write(Data("goloadtest: \(message)\n".utf8))
    }

    /// One clear line on stderr.
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("goloadtest: error: \(message)\n".utf8))
    }
}

/// Logging options shared by the long-running commands.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level on stderr: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    func makeLogger(_ label: String) -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return ClearingProgress(handler)
        }
        return Logger(label: label)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// A failure already explained on stderr: exit 1 without a second message.
func fail(_ message: String) -> ExitCode {
    Output.error(message)
    return ExitCode.failure
}

/// A log handler that first clears a progress bar drawn on the terminal's last line, so that a
/// log line starts on a line of its own; the bar is drawn again at the next second.
struct ClearingProgress: LogHandler {
    var inner: StreamLogHandler

    init(_ inner: StreamLogHandler) {
        self.inner = inner
    }

    func log(event: LogEvent) {
        if ProgressLine.drawn.exchange(false, ordering: .relaxed) {
            FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
        }
        inner.log(event: event)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }
}
