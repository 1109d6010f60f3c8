import NIOCore
import NIOPosix
import NIOSSL

/// One of the engine's connections: keeps a connection open while there are requests to send,
/// and opens a new one when the server closes it or it fails. Lives on one event loop. Over
/// HTTP/1.1 it has one request in flight; over HTTP/2, `streams`.
final class ConnectionSlot {
    let eventLoop: any EventLoop
    let run: LoadRun
    let shard: WindowRecorder.Shard
    /// The run's requests (read on every result: kept here, not looked up through the run).
    let mix: RequestMix
    let streams: Int
    /// Which of the run's connections this is (a connection ramp lets the first ones send).
    let index: Int
    private var finished = false
    /// The request the connection being opened will send first.
    private var connecting: Ticket?
    /// When the connection being opened started connecting (uptime ns).
    private(set) var connectStartedAt: UInt64 = 0
    private lazy var bootstrap: ClientBootstrap = {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let slot = bound.value
                    guard let ticket = slot.connecting else { throw ChannelError.inappropriateOperationForState }
                    slot.connecting = nil
                    let pipeline = channel.pipeline.syncOperations
                    if let tls = slot.run.plan.tls {
                        try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: slot.run.serverHostname))
                    }
                    if slot.run.plan.http2 {
                        try pipeline.addHandler(HTTP2LoadHandler(slot: slot, first: ticket))
                    } else {
                        try pipeline.addHandler(LoadConnectionHandler(slot: slot, first: ticket))
                    }
                }
            }
    }()

    init(eventLoop: any EventLoop, run: LoadRun, shard: WindowRecorder.Shard, streams: Int = 1, index: Int = 0) {
        self.index = index
        self.eventLoop = eventLoop
        self.run = run
        self.shard = shard
        self.mix = run.plan.mix
        self.streams = max(1, streams)
    }

    /// Connects to send `pending` (a request claimed but not sent) or the next request, or
    /// finishes if there is none left.
    func start(pending: Ticket? = nil) {
        eventLoop.assertInEventLoop()
        guard pending != nil || run.control.allows(connection: index) else {
            park()
            return
        }
        guard let ticket = pending ?? run.control.take() else {
            finish()
            return
        }
        connect(ticket)
    }

    /// The next request for this connection, or nil: none left, or the connection ramp wants
    /// this one idle now (it closes, and `start` waits until it is wanted again).
    func take() -> Ticket? {
        run.control.allows(connection: index) ? run.control.take() : nil
    }

    /// Not among the connections the ramp wants now: looks again every 100 ms until the run ends.
    private func park() {
        guard !run.control.isStopped, run.control.remainingNanoseconds > 0 else {
            finish()
            return
        }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(in: .nanoseconds(Int64(LoadConnectionHandler.recheckNanoseconds))) {
            bound.value.start()
        }
    }

    /// Connects to the run's addresses in the resolver's order, starting from the one that
    /// last worked and falling back on the next when one fails (like curl), so a name with
    /// several addresses works whenever one of them does. One channel per attempt.
    /// `first`: the address the first attempt used (read once: another connection may change
    /// the preferred one meanwhile, and every address must get its turn).
    private func connect(
        _ ticket: Ticket, attempt: Int = 0, first: Int? = nil, startedAt: UInt64 = NIODeadline.now().uptimeNanoseconds
    ) {
        let addresses = run.addresses
        guard !addresses.isEmpty else {
            // Through the event loop, not recursively: every request of the run fails this way.
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            eventLoop.execute {
                bound.value.setupFailed(
                    ticket, kind: .unresolvedHost, reason: "\(bound.value.run.plan.target.host) has no address")
            }
            return
        }
        // No new request after the deadline; the connect timeout is bounded by what is left.
        let remaining = run.control.remainingNanoseconds
        guard remaining > 0 else {
            run.control.giveBack()
            finish()
            return
        }
        let timeout = min(run.plan.timeout.nanoseconds, Int64(clamping: remaining))
        // A connect cut short by the run's deadline, not by its own timeout: the request was
        // never sent, so it is not a failure (a rate-driven run counts it as dropped).
        let cutByDeadline = timeout < run.plan.timeout.nanoseconds
        let first = first ?? run.preferredAddress
        let index = (first + attempt) % addresses.count
        connecting = ticket
        connectStartedAt = startedAt
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        bootstrap.connectTimeout(.nanoseconds(max(1, timeout))).connect(to: addresses[index]).whenComplete { result in
            let slot = bound.value
            switch result {
            case .success:
                slot.run.prefer(index)
            case .failure(let error):
                slot.connecting = nil
                let kind = FailureKind(connectError: error)
                if kind == .connectTimeout, cutByDeadline {
                    slot.run.control.giveBack()
                    slot.finish()
                } else if attempt + 1 < addresses.count, !slot.run.control.isStopped {
                    slot.connect(ticket, attempt: attempt + 1, first: first, startedAt: startedAt)
                } else {
                    slot.setupFailed(ticket, kind: kind, reason: "\(error)")
                }
            }
        }
    }

    /// The request could not even be sent: no connection, or no TLS on it. In a rate-driven run
    /// the next attempt waits for the next request's intended time, so a dead target does not
    /// burn the schedule in a spin.
    func setupFailed(_ ticket: Ticket, kind: FailureKind, reason: @autoclosure () -> String) {
        connecting = nil
        run.explain(kind, reason())
        let startedAt = connectStartedAt
        let now = NIODeadline.now().uptimeNanoseconds
        let from = ticket.intended != 0 ? min(ticket.intended, startedAt) : startedAt
        failed(
            kind, latencyMicroseconds: (now &- from) / 1_000, late: false, bytesReceived: 0,
            request: mix.target(for: ticket.number), bytesSent: 0)
        guard run.control.allows(connection: index) else {
            park()
            return
        }
        guard let next = run.control.take() else {
            finish()
            return
        }
        connectWhenDue(next)
    }

    /// Connects at the ticket's intended time, looking up every 100 ms in case the run stops.
    private func connectWhenDue(_ ticket: Ticket) {
        guard !run.control.isStopped else {
            run.control.giveBack()
            finish()
            return
        }
        let now = NIODeadline.now().uptimeNanoseconds
        guard ticket.intended > now else {
            connect(ticket)
            return
        }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let wake = min(ticket.intended, now + LoadConnectionHandler.recheckNanoseconds)
        eventLoop.scheduleTask(deadline: .uptimeNanoseconds(wake)) {
            bound.value.connectWhenDue(ticket)
        }
    }

    /// `request`: which of the run's requests it was; `bytesSent`: its size on the wire, when
    /// it is not the HTTP/1.1 request's (HTTP/2).
    func responded(
        status: Int, latencyMicroseconds: UInt64, uncorrectedMicroseconds: UInt64, late: Bool, bytesReceived: UInt64,
        request: Int, bytesSent: UInt64? = nil
    ) {
        shard.recordResponse(
            status: status, latencyMicroseconds: latencyMicroseconds, uncorrectedMicroseconds: uncorrectedMicroseconds,
            late: late, bytesReceived: bytesReceived, bytesSent: bytesSent ?? mix.sizes[request], name: mix.name(of: request))
    }

    /// A connection is ready for requests; `handshakeMicroseconds` for a TLS one.
    func connected(handshakeMicroseconds: UInt64?) {
        shard.recordConnection(handshakeMicroseconds: handshakeMicroseconds)
    }

    func failed(
        _ kind: FailureKind, latencyMicroseconds: UInt64, late: Bool, bytesReceived: UInt64, request: Int,
        bytesSent: UInt64? = nil
    ) {
        shard.recordError(
            kind, latencyMicroseconds: latencyMicroseconds, late: late, bytesReceived: bytesReceived,
            bytesSent: bytesSent ?? mix.sizes[request], name: mix.name(of: request))
    }

    /// The connection closed; carry on with a new one if there is work left, opened when the
    /// request it is for is due (a server that closes idle connections is not called again
    /// and again before then).
    func connectionClosed(pending: Ticket?) {
        if let pending, pending.intended > NIODeadline.now().uptimeNanoseconds {
            connectWhenDue(pending)
        } else {
            start(pending: pending)
        }
    }

    func finish() {
        guard !finished else { return }
        finished = true
        run.slotFinished()
    }
}

extension FailureKind {
    init(connectError error: any Error) {
        if let error = error as? NIOConnectionError {
            if error.dnsAAAAError != nil || error.dnsAError != nil, error.connectionErrors.isEmpty {
                self = .unresolvedHost
                return
            }
            if let first = error.connectionErrors.first?.error {
                self.init(error: first)
                return
            }
        }
        self.init(error: error)
    }

    init(error: any Error) {
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: self = .connectionRefused
            case ECONNRESET, EPIPE: self = .connectionReset
            case ETIMEDOUT: self = .connectTimeout
            default: self = .other
            }
            return
        }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout: self = .connectTimeout
            case .eof, .ioOnClosedChannel, .outputClosed, .alreadyClosed: self = .connectionClosed
            default: self = .other
            }
            return
        }
        if case .uncleanShutdown = error as? NIOSSLError {
            self = .connectionClosed
            return
        }
        if error is HTTPResponseParser.ParseError {
            self = .badResponse
            return
        }
        self = .other
    }

    /// An error before TLS was up: the certificate, or the handshake.
    init(tlsError error: any Error) {
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            self = .certificate
        } else if case .handshakeFailed(let reason) = error as? NIOSSLError,
            "\(reason)".contains("CERTIFICATE_VERIFY_FAILED")
        {
            self = .certificate
        } else {
            self = .tlsHandshake
        }
    }
}
