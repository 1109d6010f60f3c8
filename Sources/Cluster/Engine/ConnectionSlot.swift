import NIOCore
import NIOHTTP1
import NIOPosix

/// One of the engine's `concurrency` places: keeps a connection open while there are requests
/// to send, and opens a new one when the server closes it or it fails. Lives on one event loop.
final class ConnectionSlot {
    let eventLoop: any EventLoop
    let run: LoadRun
    let shard: WindowRecorder.Shard
    /// Bytes read on the current connection and not yet counted in a window.
    var unreportedBytesIn: UInt64 = 0
    private var finished = false

    init(eventLoop: any EventLoop, run: LoadRun, shard: WindowRecorder.Shard) {
        self.eventLoop = eventLoop
        self.run = run
        self.shard = shard
    }

    var requestSize: UInt64 { UInt64(run.plan.target.request.readableBytes) }

    /// Claims a request and connects to send it, or finishes if there is none left.
    func start() {
        eventLoop.assertInEventLoop()
        guard run.control.take() else {
            finish()
            return
        }
        connect()
    }

    private func connect() {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let target = run.plan.target
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(run.plan.timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let slot = bound.value
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(WireHandler(slot: slot))
                    try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(LoadConnectionHandler(slot: slot))
                }
            }
            .connect(host: target.host, port: target.port)
            .whenFailure { error in
                let slot = bound.value
                slot.failed(FailureKind(connectError: error))
                slot.start()
            }
    }

    /// A request got a response.
    func responded(status: Int, latencyMicroseconds: UInt64) {
        shard.recordResponse(
            status: status, latencyMicroseconds: latencyMicroseconds,
            bytesReceived: unreportedBytesIn, bytesSent: requestSize)
        unreportedBytesIn = 0
    }

    /// A request got no response.
    func failed(_ kind: FailureKind) {
        shard.recordError(kind, bytesReceived: unreportedBytesIn, bytesSent: requestSize)
        unreportedBytesIn = 0
    }

    /// The connection closed; carry on with a new one if there is work left.
    func connectionClosed() {
        start()
    }

    private func finish() {
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
        if error is ChannelError, case .connectTimeout = error as? ChannelError {
            self = .connectTimeout
            return
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
        if error is HTTPParserError {
            self = .badResponse
            return
        }
        self = .other
    }
}
