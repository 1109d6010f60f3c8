import NIOCore
import NIOHTTP1

/// The handler next to the socket: counts the bytes read before they are decoded, and turns each
/// request head written through the response decoder (which needs to see it to pair responses
/// with requests) into the run's pre-encoded request bytes.
final class WireHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = ByteBuffer

    private let slot: ConnectionSlot
    private let request: ByteBuffer

    init(slot: ConnectionSlot) {
        self.slot = slot
        self.request = slot.run.plan.target.request
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        slot.unreportedBytesIn &+= UInt64(unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head:
            context.write(wrapOutboundOut(request), promise: promise)
        case .body, .end:
            promise?.succeed()
        }
    }
}

/// Drives one keep-alive connection: one request in flight, the next sent as soon as the
/// response ends. The request bytes are encoded once per run and written as they are.
final class LoadConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let slot: ConnectionSlot
    /// What the decoder sees of each request; `WireHandler` sends the pre-encoded bytes.
    private let head: HTTPClientRequestPart
    private let timeout: TimeAmount
    private var inFlight = false
    private var sentAt = NIODeadline.uptimeNanoseconds(0)
    private var status = 0
    private var serverWillClose = false
    private var watchdog: Scheduled<Void>?

    init(slot: ConnectionSlot) {
        self.slot = slot
        self.head = .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: slot.run.plan.target.requestTarget))
        self.timeout = slot.run.plan.timeout
    }

    func channelActive(context: ChannelHandlerContext) {
        // The slot claimed this request before connecting.
        send(context: context)
    }

    private func send(context: ChannelHandlerContext) {
        inFlight = true
        status = 0
        sentAt = .now()
        context.writeAndFlush(wrapOutboundOut(head), promise: nil)
        armWatchdog(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            serverWillClose = !head.isKeepAlive
        case .body:
            break
        case .end:
            guard inFlight else { return }
            inFlight = false
            let elapsed = NIODeadline.now().uptimeNanoseconds &- sentAt.uptimeNanoseconds
            slot.responded(status: status, latencyMicroseconds: elapsed / 1_000)
            if serverWillClose {
                context.close(promise: nil)
            } else if slot.run.control.take() {
                send(context: context)
            } else {
                context.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        watchdog?.cancel()
        watchdog = nil
        if inFlight {
            inFlight = false
            slot.failed(.connectionClosed)
        }
        slot.connectionClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if inFlight {
            inFlight = false
            slot.failed(FailureKind(error: error))
        }
        context.close(promise: nil)
    }

    /// One timer per connection, re-armed lazily: it fires at the in-flight request's deadline
    /// or later, so a fast run schedules about one timer per `timeout`, not one per request.
    private func armWatchdog(context: ChannelHandlerContext) {
        guard watchdog == nil else { return }
        let deadline = sentAt + timeout
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        watchdog = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.watchdogFired(context: context)
        }
    }

    private func watchdogFired(context: ChannelHandlerContext) {
        watchdog = nil
        guard inFlight else { return }
        if NIODeadline.now() >= sentAt + timeout {
            inFlight = false
            slot.failed(.timeout)
            context.close(promise: nil)
        } else {
            armWatchdog(context: context)
        }
    }
}
