import NIOCore
import NIOHPACK
import NIOTLS

/// Drives one HTTP/2 connection at the frame level, as h2load does: up to `slot.streams`
/// requests in flight as streams (fewer if the server allows fewer), each one HEADERS frame
/// encoded once for the whole run (and DATA for a body, within the server's windows),
/// measured from its (intended) send time to the end of its response. The client side of
/// RFC 9113 a load test needs: settings, pings, windows, resets and GOAWAY.
///
/// A stream the server did not process (above a GOAWAY's last stream, or reset with
/// REFUSED_STREAM) is sent again once, on this connection or the next, its latency counted from
/// the first send; refused twice, it fails. Other resets fail as `stream reset`; streams lost
/// when the server closes after a GOAWAY fail as `goaway`. A connection that ends before it
/// carried a request (no settings in time, a GOAWAY or a close first) fails the request it was
/// opened for, so a server that refuses everything cannot keep a run going in circles.
final class HTTP2LoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Stream {
        var ticket: Ticket
        /// Which of the run's requests it carries.
        var request: Int
        var sentAt: UInt64
        /// Where its latency starts: the intended send time, or the first send of a retry.
        var intendedAt: UInt64
        /// The first send, where the uncorrected latency starts.
        var firstSentAt: UInt64
        var late: Bool
        var status = 0
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64
        /// Response bytes taken since this stream's last WINDOW_UPDATE.
        var unacknowledged = 0
        /// Request body bytes sent, and what the server still lets this stream send.
        var bodySent = 0
        var sendWindow: Int
    }

    /// A violation of HTTP/2 by the server: the connection is given up.
    private struct ProtocolViolation: Error {
        let reason: String
    }

    private let slot: ConnectionSlot
    private let setup: ConnectionSetup
    /// The run's requests, each encoded once.
    private let requests: [HTTP2Request]
    private let timeout: TimeAmount

    private var decoder = HPACKDecoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: 4_096, maxHeaderListSize: 1 << 16)
    private var inbound: ByteBuffer?
    private var outbound = ByteBuffer()
    /// A header block split over CONTINUATION frames, until its END_HEADERS.
    private var partialHeaders: (stream: UInt32, endStream: Bool, block: ByteBuffer)?

    private var inFlight: [UInt32: Stream] = [:]
    /// Claimed, waiting for their intended time or a free stream, in order.
    private var waiting: [Ticket]
    /// Streams with request body left to send, in order.
    private var bodies: [UInt32] = []
    private var nextStreamID: UInt32 = 1
    /// The server's first SETTINGS came, allowing streams: requests can go.
    private var settled = false
    /// No more streams on this connection: the run has no more requests, the server sent
    /// GOAWAY, or the stream ids are used up.
    private var draining = false
    /// The error code of the server's GOAWAY, once it sent one.
    private var goaway: UInt32?
    /// Why the connection ended before it could carry a request.
    private var refusal: (kind: FailureKind, reason: String)?
    /// This side closed the connection: nothing more is read or sent (TLS may still deliver
    /// data while it waits for the server's close_notify).
    private var closing = false

    /// The server's settings (RFC 9113 §6.5.2 defaults until its SETTINGS come).
    private var maxStreams = Int.max
    private var initialSendWindow = 65_535
    private var maxSendFrame = 16_384
    private var connectionSendWindow = 65_535
    /// Response bytes taken since the last connection WINDOW_UPDATE.
    private var unacknowledged = 0

    private var scheduledSend: Scheduled<Void>?
    private var watchdog: Scheduled<Void>?
    /// Until the server's settings come.
    private var settingsDeadline: Scheduled<Void>?

    init(slot: ConnectionSlot, first: Ticket) {
        self.slot = slot
        self.setup = ConnectionSetup(slot: slot)
        requests = slot.run.http2Requests.isEmpty ? slot.mix.targets.map(HTTP2Request.init) : slot.run.http2Requests
        timeout = slot.run.plan.timeout
        waiting = [first]
    }

    func handlerAdded(context: ChannelHandlerContext) {
        outbound = context.channel.allocator.buffer(capacity: 4_096)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if setup.channelActive(context: context) { open(context: context) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event, !setup.ready {
            if negotiated != "h2" {
                setup.fail(
                    .tlsHandshake,
                    "the server did not agree to HTTP/2 in ALPN (it chose \(negotiated ?? "nothing")); drop --http2 for this target",
                    context: context)
            } else if setup.handshakeCompleted() {
                open(context: context)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The preface and settings; requests go once the server's settings come, within the
    /// request timeout (and the run's hard stop).
    private func open(context: ChannelHandlerContext) {
        HTTP2Frames.writeOpening(to: &outbound)
        flush(context: context)
        let seconds = Double(timeout.nanoseconds) / 1e9
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        settingsDeadline = context.eventLoop.scheduleTask(
            deadline: min(.now() + timeout, .uptimeNanoseconds(slot.run.control.hardStop))
        ) {
            let (handler, context) = bound.value
            handler.settingsDeadline = nil
            guard !handler.settled else { return }
            handler.refusal = (.timeout, "no HTTP/2 settings from the server within \(seconds) s")
            handler.close(context: context)
        }
    }

    /// Closes the connection, telling the server why with a GOAWAY (`code`).
    private func close(context: ChannelHandlerContext, code: UInt32 = 0) {
        guard !closing else { return }
        closing = true
        HTTP2Frames.writeHeader(length: 8, .goaway, to: &outbound)
        outbound.writeInteger(UInt32(0))
        outbound.writeInteger(code)
        flush(context: context)
        context.close(promise: nil)
    }

    private func flush(context: ChannelHandlerContext) {
        guard outbound.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(outbound), promise: nil)
        outbound.clear()
    }

    // MARK: Sending

    /// Opens streams until `slot.streams` are in flight or waiting, sending those that are due
    /// as far as the server's stream limit allows.
    private func fill(context: ChannelHandlerContext) {
        guard settled, !closing, context.channel.isActive else { return }
        if slot.run.control.isStopped { draining = true }
        while !draining, inFlight.count + waiting.count < slot.streams {
            guard let ticket = slot.take() else {
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
        while !waiting.isEmpty, waiting[0].intended <= now, inFlight.count < maxStreams, goaway == nil {
            guard nextStreamID < UInt32(Int32.max) else {
                draining = true
                break
            }
            send(waiting.removeFirst(), now: now)
            sent = true
        }
        if sent {
            sendBodies()
            armWatchdog(context: context)
        }
        if let next = waiting.first, scheduledSend == nil, next.intended > now {
            let wake = min(next.intended, now + LoadConnectionHandler.recheckNanoseconds)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            scheduledSend = context.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(wake)) {
                let (handler, context) = bound.value
                handler.scheduledSend = nil
                guard !handler.closing else { return }
                handler.fill(context: context)
                handler.flush(context: context)
            }
        }
        // Done, or requests left that this connection cannot carry (a GOAWAY, the stream ids
        // used up, or the server allows no stream now): the next connection takes them.
        let stuck = goaway != nil || nextStreamID >= UInt32(Int32.max) || maxStreams == 0
        if inFlight.isEmpty, waiting.isEmpty ? draining : stuck {
            close(context: context)
        }
    }

    private func send(_ ticket: Ticket, now: UInt64) {
        let id = nextStreamID
        nextStreamID += 2
        let request = slot.mix.target(for: ticket.number)
        let body = requests[request].body
        var block = id == 1 ? requests[request].firstHeaderBlock : requests[request].headerBlock
        var bytesOut = UInt64(block.readableBytes)
        var kind = HTTP2Frames.Kind.headers
        repeat {
            let part = block.readSlice(length: min(block.readableBytes, maxSendFrame)) ?? ByteBuffer()
            var flags = block.readableBytes == 0 ? HTTP2Frames.Flag.endHeaders : 0
            if kind == .headers, body.readableBytes == 0 { flags |= HTTP2Frames.Flag.endStream }
            HTTP2Frames.writeHeader(length: part.readableBytes, kind, flags: flags, stream: id, to: &outbound)
            outbound.writeImmutableBuffer(part)
            bytesOut += UInt64(HTTP2Frames.headerLength)
            kind = .continuation
        } while block.readableBytes > 0
        let firstSentAt = ticket.isRetry ? ticket.firstSentAt : now
        inFlight[id] = Stream(
            ticket: ticket, request: request, sentAt: now, intendedAt: ticket.intended == 0 ? firstSentAt : ticket.intended, firstSentAt: firstSentAt,
            late: ticket.intended != 0 && now > ticket.intended &+ LoadConnectionHandler.lateAfterNanoseconds,
            bytesOut: bytesOut, sendWindow: initialSendWindow)
        if body.readableBytes > 0 { bodies.append(id) }
    }

    /// Sends request bodies in order, as far as the connection's and streams' windows allow.
    private func sendBodies() {
        while let id = bodies.first {
            guard var stream = inFlight[id], stream.bodySent < requests[stream.request].body.readableBytes else {
                bodies.removeFirst()
                continue
            }
            let body = requests[stream.request].body
            let left = body.readableBytes - stream.bodySent
            let length = min(left, connectionSendWindow, stream.sendWindow, maxSendFrame)
            guard length > 0 else { return }
            HTTP2Frames.writeHeader(
                length: length, .data, flags: length == left ? HTTP2Frames.Flag.endStream : 0, stream: id, to: &outbound)
            outbound.writeImmutableBuffer(body.getSlice(at: body.readerIndex + stream.bodySent, length: length) ?? ByteBuffer())
            stream.bodySent += length
            stream.sendWindow -= length
            stream.bytesOut += UInt64(HTTP2Frames.headerLength + length)
            connectionSendWindow -= length
            inFlight[id] = stream
        }
    }

    // MARK: Receiving

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var bytes = unwrapInboundIn(data)
        if var pending = inbound {
            inbound = nil
            pending.writeBuffer(&bytes)
            bytes = pending
        }
        do {
            while let header = HTTP2Frames.Header.peek(bytes) {
                guard header.length <= HTTP2Frames.maxFrameLength else {
                    throw ProtocolViolation(reason: "a frame of \(header.length) bytes, over the 16,384 this client allows")
                }
                guard bytes.readableBytes >= HTTP2Frames.headerLength + header.length else { break }
                bytes.moveReaderIndex(forwardBy: HTTP2Frames.headerLength)
                let payload = bytes.readSlice(length: header.length) ?? ByteBuffer()
                try receive(header, payload, context: context)
                if closing { return }
            }
        } catch {
            let reason = (error as? ProtocolViolation)?.reason ?? "\(error)"
            // PROTOCOL_ERROR, or COMPRESSION_ERROR for a header block HPACK could not decode.
            let code: UInt32 = error is ProtocolViolation ? 0x1 : 0x9
            connectionFailed(.badResponse, "the server broke HTTP/2: \(reason)", code: code, context: context)
            return
        }
        if bytes.readableBytes > 0 {
            // Only the unparsed bytes are kept: the buffer does not grow with what was read.
            bytes.discardReadBytes()
            inbound = bytes
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context: context)
        context.fireChannelReadComplete()
    }

    private func receive(_ header: HTTP2Frames.Header, _ payload: ByteBuffer, context: ChannelHandlerContext) throws {
        var payload = payload
        let kind = HTTP2Frames.Kind(rawValue: header.type)
        if let partial = partialHeaders, kind != .continuation || header.stream != partial.stream {
            throw ProtocolViolation(reason: "a header block of stream \(partial.stream) was interrupted")
        }
        switch kind {
        case .data:
            unacknowledged += header.length
            if unacknowledged >= 1 << 30 {
                HTTP2Frames.writeWindowUpdate(unacknowledged, to: &outbound)
                unacknowledged = 0
            }
            guard var stream = inFlight[header.stream] else { return }
            stream.bytesIn &+= UInt64(HTTP2Frames.headerLength + header.length)
            stream.unacknowledged += header.length
            if stream.unacknowledged >= 1 << 30 {
                HTTP2Frames.writeWindowUpdate(stream.unacknowledged, stream: header.stream, to: &outbound)
                stream.unacknowledged = 0
            }
            inFlight[header.stream] = stream
            if header.flags & HTTP2Frames.Flag.endStream != 0 { completed(header.stream, context: context) }
        case .headers:
            if header.flags & HTTP2Frames.Flag.padded != 0 {
                guard let padding = payload.readInteger(as: UInt8.self), Int(padding) <= payload.readableBytes else {
                    throw ProtocolViolation(reason: "HEADERS padded beyond its length")
                }
                payload.moveWriterIndex(to: payload.writerIndex - Int(padding))
            }
            if header.flags & HTTP2Frames.Flag.priority != 0 {
                guard payload.readSlice(length: 5) != nil else { throw ProtocolViolation(reason: "HEADERS too short for its priority") }
            }
            countIn(header, on: header.stream)
            let endStream = header.flags & HTTP2Frames.Flag.endStream != 0
            if header.flags & HTTP2Frames.Flag.endHeaders != 0 {
                try headersReceived(payload, stream: header.stream, endStream: endStream, context: context)
            } else {
                partialHeaders = (header.stream, endStream, payload)
            }
        case .continuation:
            guard var partial = partialHeaders else { throw ProtocolViolation(reason: "CONTINUATION without HEADERS") }
            countIn(header, on: header.stream)
            partial.block.writeImmutableBuffer(payload)
            guard partial.block.readableBytes <= 1 << 17 else { throw ProtocolViolation(reason: "a header block over 128 KiB") }
            if header.flags & HTTP2Frames.Flag.endHeaders != 0 {
                partialHeaders = nil
                try headersReceived(partial.block, stream: partial.stream, endStream: partial.endStream, context: context)
            } else {
                partialHeaders = partial
            }
        case .rstStream:
            guard let code = payload.readInteger(as: UInt32.self) else { throw ProtocolViolation(reason: "RST_STREAM too short") }
            guard inFlight[header.stream] != nil else { return }
            if code == HTTP2Frames.refusedStream {
                sendAgain([header.stream], .streamReset, "the server refused a stream twice (REFUSED_STREAM)")
            } else {
                slot.run.explain(.streamReset, "the server reset a stream (\(HTTP2Frames.errorName(code)))")
                failStream(header.stream, .streamReset)
            }
            fill(context: context)
        case .settings:
            guard header.flags & HTTP2Frames.Flag.ack == 0 else { return }
            try settingsReceived(payload, context: context)
        case .ping:
            guard header.flags & HTTP2Frames.Flag.ack == 0 else { return }
            guard header.length == 8 else { throw ProtocolViolation(reason: "PING of \(header.length) bytes") }
            HTTP2Frames.writeHeader(length: 8, .ping, flags: HTTP2Frames.Flag.ack, to: &outbound)
            outbound.writeImmutableBuffer(payload)
        case .goaway:
            guard let last = payload.readInteger(as: UInt32.self), let code = payload.readInteger(as: UInt32.self) else {
                throw ProtocolViolation(reason: "GOAWAY too short")
            }
            goawayReceived(lastStream: last & 0x7fff_ffff, code: code, context: context)
        case .windowUpdate:
            guard let increment = payload.readInteger(as: UInt32.self) else { throw ProtocolViolation(reason: "WINDOW_UPDATE too short") }
            let amount = Int(increment & 0x7fff_ffff)
            if header.stream == 0 {
                connectionSendWindow = min(connectionSendWindow + amount, HTTP2Frames.maxWindow)
            } else if var stream = inFlight[header.stream] {
                stream.sendWindow = min(stream.sendWindow + amount, HTTP2Frames.maxWindow)
                inFlight[header.stream] = stream
            }
            sendBodies()
        case .pushPromise:
            throw ProtocolViolation(reason: "PUSH_PROMISE, though this client disabled push")
        case .priority, nil:
            break
        }
    }

    /// The bytes of a frame on a stream count towards its response.
    private func countIn(_ header: HTTP2Frames.Header, on id: UInt32) {
        inFlight[id]?.bytesIn &+= UInt64(HTTP2Frames.headerLength + header.length)
    }

    /// A whole header block: decoded even for a stream this client gave up, to keep the
    /// HPACK table in step with the server's.
    private func headersReceived(_ block: ByteBuffer, stream id: UInt32, endStream: Bool, context: ChannelHandlerContext) throws {
        var block = block
        let headers = try decoder.decodeHeaders(from: &block)
        guard var stream = inFlight[id] else { return }
        // 1xx heads are interim: the final status replaces them.
        if let text = headers.first(name: ":status"), let status = Int(text), status >= 200 || stream.status == 0 {
            stream.status = status
        }
        inFlight[id] = stream
        if endStream { completed(id, context: context) }
    }

    private func settingsReceived(_ payload: ByteBuffer, context: ChannelHandlerContext) throws {
        var payload = payload
        guard payload.readableBytes % 6 == 0 else { throw ProtocolViolation(reason: "SETTINGS of \(payload.readableBytes) bytes") }
        while let identifier = payload.readInteger(as: UInt16.self), let value = payload.readInteger(as: UInt32.self) {
            switch identifier {
            case HTTP2Frames.Setting.maxConcurrentStreams:
                maxStreams = Int(value)
            case HTTP2Frames.Setting.initialWindowSize:
                guard value <= UInt32(HTTP2Frames.maxWindow) else { throw ProtocolViolation(reason: "an initial window of \(value)") }
                let change = Int(value) - initialSendWindow
                initialSendWindow = Int(value)
                for id in inFlight.keys { inFlight[id]?.sendWindow += change }
            case HTTP2Frames.Setting.maxFrameSize:
                guard (16_384...16_777_215).contains(value) else { throw ProtocolViolation(reason: "a maximum frame size of \(value)") }
                maxSendFrame = Int(value)
            default:
                // The header table size does not matter: requests do not use the table.
                break
            }
        }
        HTTP2Frames.writeHeader(length: 0, .settings, flags: HTTP2Frames.Flag.ack, to: &outbound)
        if !settled {
            guard maxStreams > 0 else {
                refusal = (.other, "the server allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS 0)")
                close(context: context)
                return
            }
            settled = true
            settingsDeadline?.cancel()
            settingsDeadline = nil
        }
        sendBodies()
        fill(context: context)
    }

    private func goawayReceived(lastStream: UInt32, code: UInt32, context: ChannelHandlerContext) {
        draining = true
        goaway = code
        guard settled, nextStreamID > 1 else {
            refusal = (.goaway, "the server sent GOAWAY (\(HTTP2Frames.errorName(code))) before any request")
            close(context: context)
            return
        }
        sendAgain(
            inFlight.keys.filter { $0 > lastStream }.sorted(), .goaway,
            "the server sent GOAWAY (\(HTTP2Frames.errorName(code))) before taking the same request twice")
        fill(context: context)
    }

    /// Streams the server did not process go back to the front of the queue once; the second
    /// time they fail as `kind`.
    private func sendAgain(_ ids: [UInt32], _ kind: FailureKind, _ reason: String) {
        var again: [Ticket] = []
        for id in ids {
            guard let stream = inFlight[id] else { continue }
            if stream.ticket.isRetry {
                slot.run.explain(kind, reason)
                failStream(id, kind)
            } else {
                inFlight[id] = nil
                again.append(Ticket(intended: stream.ticket.intended, firstSentAt: stream.firstSentAt, number: stream.ticket.number))
            }
        }
        waiting.insert(contentsOf: again, at: 0)
    }

    private func completed(_ id: UInt32, context: ChannelHandlerContext) {
        guard let stream = inFlight.removeValue(forKey: id) else { return }
        if stream.bodySent < requests[stream.request].body.readableBytes {
            // Answered before its body was all sent: the rest is not wanted.
            HTTP2Frames.writeRstStream(0x8, stream: id, to: &outbound)
        }
        let now = NIODeadline.now().uptimeNanoseconds
        slot.responded(
            status: stream.status, latencyMicroseconds: (now &- stream.intendedAt) / 1_000,
            uncorrectedMicroseconds: (now &- stream.firstSentAt) / 1_000, late: stream.late, bytesReceived: stream.bytesIn,
            request: stream.request, bytesSent: stream.bytesOut)
        fill(context: context)
    }

    private func failStream(_ id: UInt32, _ kind: FailureKind) {
        guard let stream = inFlight.removeValue(forKey: id) else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        slot.failed(
            kind, latencyMicroseconds: (now &- stream.intendedAt) / 1_000, late: stream.late,
            bytesReceived: stream.bytesIn, request: stream.request, bytesSent: stream.bytesOut)
    }

    /// The connection cannot go on: streams in flight fail as `kind`, it closes (with
    /// GOAWAY `code`).
    private func connectionFailed(_ kind: FailureKind, _ reason: String, code: UInt32 = 0, context: ChannelHandlerContext) {
        if refusal == nil { refusal = (kind, reason) }
        if !inFlight.isEmpty {
            slot.run.explain(kind, reason)
            for id in Array(inFlight.keys) { failStream(id, kind) }
        }
        close(context: context, code: code)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard setup.ready else {
            // A server that speaks only HTTP/1.1 refuses ALPN h2 with an alert.
            let reason = "\(error)".contains("NO_APPLICATION_PROTOCOL")
                ? "the server refused HTTP/2 in ALPN (no_application_protocol); drop --http2 for this target" : "\(error)"
            setup.fail(FailureKind(tlsError: error), reason, context: context)
            return
        }
        connectionFailed(FailureKind(error: error), "\(error)", context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        for timer in [watchdog, scheduledSend, settingsDeadline] { timer?.cancel() }
        watchdog = nil
        scheduledSend = nil
        settingsDeadline = nil
        if !inFlight.isEmpty {
            if let goaway {
                let reason = "the server sent GOAWAY (\(HTTP2Frames.errorName(goaway))) and closed the connection before answering"
                slot.run.explain(.goaway, reason)
            }
            for id in Array(inFlight.keys) { failStream(id, goaway == nil ? .connectionClosed : .goaway) }
        }
        // The first waiting request is the next connection's (or fails with this one's
        // setup); the others go back to the run for the next claims, with their number and
        // intended time. A stream this server refused goes to the next connection as a new
        // one: each connection may refuse it once (a server that refuses everything still
        // fails the request the connection was opened for).
        let pending = waiting.first
        for ticket in waiting.dropFirst() { slot.run.control.handBack(Ticket(intended: ticket.intended, number: ticket.number)) }
        waiting.removeAll()
        if !setup.ready {
            setup.closedBeforeReady(pending: pending)
        } else if let pending, !settled || (nextStreamID == 1 && pending.intended <= NIODeadline.now().uptimeNanoseconds) {
            // Up, but it never carried a request, though one was due: that one fails.
            let refusal = refusal ?? (
                .connectionClosed,
                settled ? "the server closed the connection before any request" : "the server closed the connection before its HTTP/2 settings")
            slot.setupFailed(pending, kind: refusal.kind, reason: refusal.reason)
        } else {
            slot.connectionClosed(pending: pending)
        }
        context.fireChannelInactive()
    }

    // MARK: Timeouts

    /// One timer per connection, at the oldest stream's deadline (or the run's hard stop):
    /// streams past it are reset and fail as timeouts.
    private func armWatchdog(context: ChannelHandlerContext) {
        guard watchdog == nil, let oldest = inFlight.values.lazy.map(\.sentAt).min() else { return }
        let deadline = min(NIODeadline.uptimeNanoseconds(oldest) + timeout, .uptimeNanoseconds(slot.run.control.hardStop))
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        watchdog = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.watchdog = nil
            guard !handler.closing else { return }
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
                HTTP2Frames.writeRstStream(0x8, stream: id, to: &outbound)
            }
        }
        armWatchdog(context: context)
        fill(context: context)
        flush(context: context)
    }
}
