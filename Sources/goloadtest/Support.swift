import ArgumentParser
import Foundation
import Logging

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
            return handler
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
