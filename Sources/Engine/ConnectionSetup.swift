import NIOCore

/// A connection on its way to carrying requests: TCP up and, for TLS, the handshake done.
/// Shared by the HTTP/1.1 and HTTP/2 handlers; lives on the connection's event loop.
final class ConnectionSetup {
    private let slot: ConnectionSlot
    /// Requests can go: TCP is up and, for TLS, the handshake is done.
    private(set) var ready: Bool
    private var connectedAt: UInt64 = 0
    /// The first reason the connection failed before it was ready.
    private var failure: (kind: FailureKind, reason: String)?
    private var deadline: Scheduled<Void>?

    init(slot: ConnectionSlot) {
        self.slot = slot
        self.ready = slot.run.plan.tls == nil
    }

    /// TCP is up. Returns true when requests can go now (plain TCP); over TLS the handshake gets
    /// the request timeout, never beyond the run's hard stop.
    func channelActive(context: ChannelHandlerContext) -> Bool {
        connectedAt = NIODeadline.now().uptimeNanoseconds
        if ready {
            slot.connected(handshakeMicroseconds: nil)
            return true
        }
        let timeout = slot.run.plan.timeout
        let seconds = Double(timeout.nanoseconds) / 1e9
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(
            deadline: min(NIODeadline.now() + timeout, .uptimeNanoseconds(slot.run.control.hardStop))
        ) {
            let (setup, context) = bound.value
            setup.deadline = nil
            guard !setup.ready else { return }
            setup.fail(.tlsHandshake, "no TLS handshake within \(seconds) s", context: context)
        }
        return false
    }

    /// The TLS handshake is done: true the first time, when requests can start.
    func handshakeCompleted() -> Bool {
        guard !ready else { return false }
        ready = true
        deadline?.cancel()
        deadline = nil
        slot.connected(handshakeMicroseconds: (NIODeadline.now().uptimeNanoseconds &- connectedAt) / 1_000)
        return true
    }

    /// The connection cannot become ready: keeps the first reason and closes it.
    func fail(_ kind: FailureKind, _ reason: String, context: ChannelHandlerContext) {
        if failure == nil { failure = (kind, reason) }
        context.close(promise: nil)
    }

    /// The connection closed before it was ready: `pending`, the request it was opened for,
    /// fails as a setup failure (and the slot carries on); without one the slot just carries on.
    func closedBeforeReady(pending: Ticket?) {
        deadline?.cancel()
        deadline = nil
        let failure = failure ?? (.tlsHandshake, "the server closed the connection during the TLS handshake")
        if let pending {
            slot.setupFailed(pending, kind: failure.kind, reason: failure.reason)
        } else {
            slot.connectionClosed(pending: nil)
        }
    }
}
