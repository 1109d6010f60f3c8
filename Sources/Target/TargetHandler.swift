import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// Answers one connection's requests in order (pipelining is handled by NIO's server pipeline).
final class TargetHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let counter: RequestCounter
    private var route: Route = .root
    private var keepAlive = true

    static let okBody = ByteBuffer(string: "goloadtest target: ok\n")

    init(counter: RequestCounter) {
        self.counter = counter
    }

    enum Route {
        case root
        case status(Int)
        case delay(milliseconds: Int64)
        /// Every `every` ms the server stalls for `stall` ms: a response due in a stall waits for its end.
        case stall(every: Int64, stall: Int64)
        case stats
        case notFound
        case badRequest(String)

        init(path: Substring) {
            let path = path.split(separator: "?", maxSplits: 1).first ?? ""
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            switch parts.count {
            case 0:
                self = .root
            case 1 where parts[0] == "stats":
                self = .stats
            case 2 where parts[0] == "status":
                guard let code = Int(parts[1]), (200...599).contains(code) else {
                    self = .badRequest("status code must be 200...599\n")
                    return
                }
                self = .status(code)
            case 2 where parts[0] == "delay":
                guard let ms = Int64(parts[1]), (0...600_000).contains(ms) else {
                    self = .badRequest("delay must be 0...600000 milliseconds\n")
                    return
                }
                self = .delay(milliseconds: ms)
            case 3 where parts[0] == "stall":
                guard let every = Int64(parts[1]), let stall = Int64(parts[2]), every > 0, (0..<every).contains(stall),
                    every <= 3_600_000
                else {
                    self = .badRequest("use /stall/{every ms}/{stall ms} with 0 <= stall < every\n")
                    return
                }
                self = .stall(every: every, stall: stall)
            default:
                self = .notFound
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            route = Route(path: head.uri[...])
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            respond(context: context)
        }
    }

    private func respond(context: ChannelHandlerContext) {
        switch route {
        case .root:
            counter.increment()
            write(context: context, status: .ok, body: Self.okBody)
        case .status(let code):
            counter.increment()
            write(context: context, status: HTTPResponseStatus(statusCode: code), body: ByteBuffer(string: "status \(code)\n"))
        case .delay(let ms):
            counter.increment()
            let keepAlive = self.keepAlive
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(ms)) {
                let (handler, context) = loopBound.value
                handler.write(context: context, status: .ok, body: ByteBuffer(string: "delayed \(ms) ms\n"), keepAlive: keepAlive)
            }
        case .stall(let every, let stall):
            counter.increment()
            // Stalls are aligned on the wall clock, so every connection stalls together.
            let now = Self.wallClockMilliseconds()
            let phase = now % every
            let wait = phase < stall ? stall - phase : 0
            let keepAlive = self.keepAlive
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(wait)) {
                let (handler, context) = loopBound.value
                handler.write(context: context, status: .ok, body: Self.okBody, keepAlive: keepAlive)
            }
        case .stats:
            write(context: context, status: .ok, body: ByteBuffer(string: "{\"requests\": \(counter.value)}\n"), contentType: "application/json")
        case .notFound:
            counter.increment()
            write(context: context, status: .notFound, body: ByteBuffer(string: "not found\n"))
        case .badRequest(let reason):
            counter.increment()
            write(context: context, status: .badRequest, body: ByteBuffer(string: reason))
        }
    }

    static func wallClockMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    private func write(
        context: ChannelHandlerContext, status: HTTPResponseStatus, body: ByteBuffer,
        contentType: String = "text/plain", keepAlive: Bool? = nil
    ) {
        let keepAlive = keepAlive ?? self.keepAlive
        // 204 and 304 responses have no body.
        let body = status == .noContent || status == .notModified ? ByteBuffer() : body
        var headers = HTTPHeaders()
        headers.reserveCapacity(3)
        if body.readableBytes > 0 {
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        } else if status != .noContent && status != .notModified {
            headers.add(name: "Content-Length", value: "0")
        }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
