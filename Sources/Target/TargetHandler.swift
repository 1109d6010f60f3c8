import NIOCore
import NIOHTTP1

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
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        }
    }
}
