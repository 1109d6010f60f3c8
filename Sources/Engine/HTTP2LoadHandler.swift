import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOSSL
import NIOTLS

/// Drives one HTTP/2 connection at the frame level, as h2load does: up to `slot.streams`
/// requests in flight as streams, each one HEADERS frame (and a DATA frame for a body),
/// measured from its (intended) send time to the end of its response. Streams reset by the
/// server and streams refused by a GOAWAY fail with kinds of their own.
final class HTTP2LoadHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// HTTP/2 framing, then this handler.
    static func configure(_ pipeline: ChannelPipeline.SynchronousOperations, slot: ConnectionSlot, first: Ticket) throws {
        let settings: HTTP2Settings = [
            HTTP2Setting(parameter: .enablePush, value: 0),
            // Responses never wait for a stream WINDOW_UPDATE: the connection window is opened as wide.
            HTTP2Setting(parameter: .initialWindowSize, value: Int(Int32.max)),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 1 << 16),
        ]
        // Header blocks are not validated: the request's were checked once, when the target was
        // parsed, and a response's only need a status (as with h2load). The validation was
        // about a tenth of the client's CPU per request.
        try pipeline.addHandler(
            NIOHTTP2Handler(
                mode: .client, initialSettings: settings, headerBlockValidation: .disabled,
                contentLengthValidation: .disabled))
        try pipeline.addHandler(HTTP2LoadHandler(slot: slot, first: first))
    }

    private struct Stream {
        var sentAt: UInt64
        var intendedAt: UInt64
        var late: Bool
        var status = 0
        var bytesIn: UInt64 = 0
    }

    private let slot: ConnectionSlot
    private let headers: HPACKHeaders
    private let body: ByteBuffer?
    private let timeout: TimeAmount
    private var inFlight: [HTTP2StreamID: Stream] = [:]
    /// Claimed, waiting for their intended time, in the order claimed (so by intended time).
    private var waiting: [Ticket] = []
    private var nextStreamID: Int32 = 1
    /// No more streams on this connection: the run has no more requests, the server sent
    /// GOAWAY, or the stream ids are used up.
    private var draining = false
    private let setup: ConnectionSetup
    private var scheduledSend: Scheduled<Void>?
    private var watchdog: Scheduled<Void>?
    /// Response bytes taken since the last connection WINDOW_UPDATE.
    private var unacknowledged = 0

    init(slot: ConnectionSlot, first: Ticket) {
        self.slot = slot
        let target = slot.run.plan.target
        var headers = HPACKHeaders([
            (":method", target.method), (":scheme", target.isTLS ? "https" : "http"),
            (":authority", target.authority), (":path", target.requestTarget),
        ])
        for field in target.headerFields {
            headers.add(name: field.name.lowercased(), value: field.value)
        }
        self.headers = headers
        self.body = target.body.isEmpty ? nil : ByteBuffer(bytes: target.body)
        self.timeout = slot.run.plan.timeout
        self.setup = ConnectionSetup(slot: slot)
        self.waiting = [first]
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if setup.channelActive(context: context) { becameReady(context: context) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event, !setup.ready {
            if negotiated != "h2" {
                setup.fail(
                    .tlsHandshake,
                    "the server did not agree to HTTP/2 in ALPN (it chose \(negotiated ?? "nothing")); drop --http2 for this target",
                    context: context)
            } else if setup.handshakeCompleted() {
                becameReady(context: context)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func becameReady(context: ChannelHandlerContext) {
        // The connection window starts at 64 KiB whatever the settings say: open it wide.
        context.write(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: Int(Int32.max) - 65_535))), promise: nil)
        fill(context: context)
    }

    /// Opens streams until `slot.streams` are in flight or waiting, sending those that are due.
    private func fill(context: ChannelHandlerContext) {
        guard setup.ready, context.channel.isActive else { return }
        if slot.run.control.isStopped { draining = true }
        while !draining, inFlight.count + waiting.count < slot.streams {
            guard let ticket = slot.run.control.take() else {
                draining = true
                break
            }
            waiting.append(ticket)
        }
        if draining, !waiting.isEmpty, slot.run.control.isStopped {
            for _ in waiting { slot.run.control.giveBack() }
            waiting.removeAll()
        }
        let now = NIODeadline.now().uptimeNanoseconds
        var sent = false
        while let ticket = waiting.first, ticket.intended <= now, nextStreamID < Int32.max - 2 {
            waiting.removeFirst()
            send(ticket, now: now, context: context)
            sent = true
        }
        if nextStreamID >= Int32.max - 2 { draining = true }
        if sent {
            context.flush()
            armWatchdog(context: context)
        }
        if let next = waiting.first, scheduledSend == nil {
            let wake = min(next.intended, now + LoadConnectionHandler.recheckNanoseconds)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            scheduledSend = context.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(wake)) {
                let (handler, context) = bound.value
                handler.scheduledSend = nil
                handler.fill(context: context)
            }
        }
        if draining, inFlight.isEmpty, waiting.isEmpty {
            context.close(promise: nil)
        }
    }

    private func send(_ ticket: Ticket, now: UInt64, context: ChannelHandlerContext) {
        let id = HTTP2StreamID(nextStreamID)
        nextStreamID += 2
        inFlight[id] = Stream(
            sentAt: now, intendedAt: ticket.intended == 0 ? now : ticket.intended,
            late: ticket.intended != 0 && now > ticket.intended &+ LoadConnectionHandler.lateAfterNanoseconds)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: body == nil)))), promise: nil)
        if let body {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(body), endStream: true)))), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let payload):
            guard var stream = inFlight[frame.streamID] else { return }
            for (name, value, _) in payload.headers {
                stream.bytesIn &+= UInt64(name.utf8.count + value.utf8.count + 4)
            }
            if let text = payload.headers.first(name: ":status"), let status = Int(text), status >= 200 || stream.status == 0 {
                // 1xx heads are interim: the final status replaces them.
                stream.status = status
            }
            inFlight[frame.streamID] = stream
            if payload.endStream { completed(frame.streamID, context: context) }
        case .data(let payload):
            let length = payload.data.readableBytes
            unacknowledged += length
            if unacknowledged >= 1 << 30 {
                context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: unacknowledged))), promise: nil)
                unacknowledged = 0
            }
            if var stream = inFlight[frame.streamID] {
                stream.bytesIn &+= UInt64(length)
                inFlight[frame.streamID] = stream
            }
            if payload.endStream { completed(frame.streamID, context: context) }
        case .rstStream(let code):
            slot.run.explain(.streamReset, "the server reset a stream (\(code))")
            failStream(frame.streamID, .streamReset)
            fill(context: context)
        case .goAway(let lastStreamID, let code, _):
            draining = true
            let refused = inFlight.keys.filter { $0 > lastStreamID }
            if !refused.isEmpty {
                slot.run.explain(.goaway, "the server sent GOAWAY (\(code)) before taking \(refused.count) stream(s)")
            }
            for id in refused { failStream(id, .goaway) }
            fill(context: context)
        default:
            break
        }
    }

    private func completed(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let stream = inFlight.removeValue(forKey: id) else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        slot.responded(
            status: stream.status, latencyMicroseconds: (now &- stream.intendedAt) / 1_000,
            uncorrectedMicroseconds: (now &- stream.sentAt) / 1_000, late: stream.late, bytesReceived: stream.bytesIn)
        fill(context: context)
    }

    private func failStream(_ id: HTTP2StreamID, _ kind: FailureKind) {
        guard let stream = inFlight.removeValue(forKey: id) else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        slot.failed(
            kind, latencyMicroseconds: (now &- stream.intendedAt) / 1_000, late: stream.late,
            bytesReceived: stream.bytesIn, bytesSent: slot.requestSize)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard setup.ready else {
            setup.fail(FailureKind(tlsError: error), "\(error)", context: context)
            return
        }
        if !inFlight.isEmpty {
            let kind = FailureKind(error: error)
            slot.run.explain(kind, "\(error)")
            for id in Array(inFlight.keys) { failStream(id, kind) }
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watchdog?.cancel()
        watchdog = nil
        scheduledSend?.cancel()
        scheduledSend = nil
        for id in Array(inFlight.keys) { failStream(id, .connectionClosed) }
        // The first waiting request is the next connection's (or fails with this one's setup);
        // the others go back to the run.
        let pending = waiting.first
        for _ in waiting.dropFirst() { slot.run.control.giveBack() }
        waiting.removeAll()
        if setup.ready {
            slot.connectionClosed(pending: pending)
        } else {
            setup.closedBeforeReady(pending: pending)
        }
    }

    /// One timer per connection, at the oldest stream's deadline (or the run's hard stop):
    /// streams past it are reset and fail as timeouts.
    private func armWatchdog(context: ChannelHandlerContext) {
        guard watchdog == nil, let oldest = inFlight.values.lazy.map(\.sentAt).min() else { return }
        let deadline = min(NIODeadline.uptimeNanoseconds(oldest) + timeout, .uptimeNanoseconds(slot.run.control.hardStop))
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        watchdog = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.watchdog = nil
            handler.expireStreams(context: context)
        }
    }

    private func expireStreams(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        let hardStop = NIODeadline.uptimeNanoseconds(slot.run.control.hardStop)
        let expired = inFlight.filter { now >= min(.uptimeNanoseconds($0.value.sentAt) + timeout, hardStop) }.map(\.key)
        if !expired.isEmpty {
            slot.run.explain(.timeout, "no complete response within \(Double(timeout.nanoseconds) / 1e9) s")
            for id in expired {
                failStream(id, .timeout)
                context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.cancel))), promise: nil)
            }
            context.flush()
        }
        armWatchdog(context: context)
        fill(context: context)
    }
}
