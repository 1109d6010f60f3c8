/// A start or a stop asked for outside the console (the web page's `POST /api/runs`), with where
/// its answer goes. The master's loop takes it in turn with the console's lines.
public struct RunControlRequest: Sendable {
    public enum Action: Sendable {
        case start, stop
    }

    public enum Answer: Sendable, Equatable {
        case started(runId: Int64)
        case stopping(runId: Int64)
        /// Why not: a run is going already, no slave is connected, no run is going.
        case refused(String)
    }

    public var action: Action
    public var reply: @Sendable (Answer) -> Void

    public init(action: Action, reply: @escaping @Sendable (Answer) -> Void) {
        self.action = action
        self.reply = reply
    }
}
