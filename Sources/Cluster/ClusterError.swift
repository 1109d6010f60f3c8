import Engine
import Protocol

/// What goes wrong in a master or a slave, each with a sentence that says what to do.
public struct ClusterError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        case invalidURL
        case invalidPlan
        case masterUnreachable
        case refusedByMaster
        case masterWentAway
        case cannotListen
        case noSlaves
        case runInProgress
        case noRun
        case windowsRefused
        case slavesMissing
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
