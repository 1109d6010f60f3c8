import NIOCore
import NIOSSL
import NIOTLS

/// Drives one keep-alive connection: one request in flight, the next sent as soon as the
/// response ends (or, in a rate-driven run, at its intended time). The request bytes are
/// encoded once per run and written as they are; responses are parsed in place.
final class LoadConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A request that starts more than this after its intended time counts as late.
    static let lateAfterNanoseconds: UInt64 = 1_000_000

    private let slot: ConnectionSlot
    /// The run's requests, and which of them is in flight.
    private let mix: RequestMix
    private var request = 0
    private let timeout: TimeAmount
    private var parser = HTTPResponseParser()
    /// Bytes of a response that arrived without its end.
    private var leftover: ByteBuffer?
    /// Claimed, not sent yet.
    private var ticket: Ticket?
    private var scheduledSend: Scheduled<Void>?
    private var inFlight = false
    private var late = false
    private var sentAt: UInt64 = 0
    private var intendedAt: UInt64 = 0
    private var bytesIn: UInt64 = 0
    private var watchdog: Scheduled<Void>?
    private let setup: ConnectionSetup

    init(slot: ConnectionSlot, first: Ticket) {
        self.slot = slot
        self.ticket = first
        self.mix = slot.mix
        self.timeout = slot.run.plan.timeout
        self.setup = ConnectionSetup(slot: slot)
    }

    func channelActive(context: ChannelHandlerContext) {
        if setup.channelActive(context: context) { dispatch(context: context) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, setup.handshakeCompleted() {
            dispatch(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Sends the claimed request now, or waits for its intended time, looking up at least every
    /// 100 ms so that a stopped run does not wait for requests scheduled far ahead.
    private func dispatch(context: ChannelHandlerContext) {
        guard let ticket else { return }
        if slot.run.control.isStopped {
            self.ticket = nil
            slot.run.control.giveBack()
            context.close(promise: nil)
            return
        }
        let now = NIODeadline.now().uptimeNanoseconds
        guard ticket.intended > now else {
            send(context: context)
            return
        }
        let wake = min(ticket.intended, now + Self.recheckNanoseconds)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        scheduledSend = context.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(wake)) {
            let (handler, context) = bound.value
            handler.scheduledSend = nil
            handler.dispatch(context: context)
        }
    }

    static let recheckNanoseconds: UInt64 = 100_000_000

    private func send(context: ChannelHandlerContext) {
        guard let ticket, context.channel.isActive else { return }
        self.ticket = nil
        inFlight = true
        sentAt = NIODeadline.now().uptimeNanoseconds
        intendedAt = ticket.intended == 0 ? sentAt : ticket.intended
        late = ticket.intended != 0 && sentAt > ticket.intended &+ Self.lateAfterNanoseconds
        request = mix.target(for: ticket.number)
        let target = mix.targets[request]
        parser.expectsNoBody = target.isHead
        context.writeAndFlush(wrapOutboundOut(target.request), promise: nil)
        armWatchdog(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        bytesIn &+= UInt64(buffer.readableBytes)
        if var pending = leftover {
            leftover = nil
            pending.writeBuffer(&buffer)
            buffer = pending
        }
        do {
            while context.channel.isActive, let response = try parser.parse(&buffer) {
                completed(response, context: context)
            }
        } catch {
            fail(.badResponse, context: context)
            return
        }
        if buffer.readableBytes > 0, context.channel.isActive {
            // Only the unparsed bytes are kept: the buffer does not grow with what was read.
            buffer.discardReadBytes()
            leftover = buffer
        }
    }

    private func completed(_ response: HTTPResponseParser.Response, context: ChannelHandlerContext) {
        guard inFlight else {
            // A response to nothing: the server is confused; start afresh.
            context.close(promise: nil)
            return
        }
        inFlight = false
        let now = NIODeadline.now().uptimeNanoseconds
        slot.responded(
            status: response.status, latencyMicroseconds: (now &- intendedAt) / 1_000,
            uncorrectedMicroseconds: (now &- sentAt) / 1_000, late: late, bytesReceived: bytesIn, request: request)
        bytesIn = 0
        guard response.keepAlive, let next = slot.take() else {
            context.close(promise: nil)
            return
        }
        ticket = next
        dispatch(context: context)
    }

    private func fail(_ kind: FailureKind, context: ChannelHandlerContext) {
        if inFlight {
            inFlight = false
            let now = NIODeadline.now().uptimeNanoseconds
            slot.failed(
                kind, latencyMicroseconds: (now &- intendedAt) / 1_000, late: late, bytesReceived: bytesIn,
                request: request)
            bytesIn = 0
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watchdog?.cancel()
        watchdog = nil
        scheduledSend?.cancel()
        scheduledSend = nil
        guard setup.ready else {
            let pending = ticket
            ticket = nil
            setup.closedBeforeReady(pending: pending)
            return
        }
        if inFlight {
            if let response = parser.connectionClosed() {
                // A response delimited by the end of the connection.
                completed(response, context: context)
            } else {
                fail(.connectionClosed, context: context)
            }
        }
        let pending = ticket
        ticket = nil
        slot.connectionClosed(pending: pending)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard setup.ready else {
            setup.fail(FailureKind(tlsError: error), "\(error)", context: context)
            return
        }
        let kind = FailureKind(error: error)
        if inFlight { slot.run.explain(kind, "\(error)") }
        fail(kind, context: context)
    }

    /// One timer per connection, re-armed lazily: it fires at the in-flight request's deadline
    /// or later, so a fast run schedules about one timer per `timeout`, not one per request.
    private func armWatchdog(context: ChannelHandlerContext) {
        guard watchdog == nil else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        watchdog = context.eventLoop.scheduleTask(deadline: requestDeadline) {
            let (handler, context) = bound.value
            handler.watchdogFired(context: context)
        }
    }

    /// The in-flight request's timeout, or the run's hard stop if that comes first.
    private var requestDeadline: NIODeadline {
        min(.uptimeNanoseconds(sentAt) + timeout, .uptimeNanoseconds(slot.run.control.hardStop))
    }

    private func watchdogFired(context: ChannelHandlerContext) {
        watchdog = nil
        guard inFlight else { return }
        if NIODeadline.now() >= requestDeadline {
            slot.run.explain(.timeout, "no complete response within \(Double(timeout.nanoseconds) / 1e9) s")
            fail(.timeout, context: context)
        } else {
            armWatchdog(context: context)
        }
    }
}
