import Dispatch
import Foundation
import HTTPTypes
import Cluster
import Hummingbird
import Logging
import NIOCore
import Report
import Store
import Synchronization

/// A request's context, with the address it came from (only loopback may start or stop runs
/// on a master without a token).
public struct WebRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// The master's web surface (`master --http ADDRESS:PORT`): the live page, every stored run as
/// an HTML report and as JSON, and Prometheus metrics. It reads the database through a
/// read-only connection of its own (a file) or a snapshot per read (PostgreSQL), off the
/// master's threads: it never writes, and never holds up the gRPC work.
public final class WebServer: Sendable {
    /// Where stored runs are read.
    public enum Runs: Sendable {
        /// The master's file, opened read-only for each request.
        case file(path: String)
        /// A shared database the master holds open (each read is a snapshot of its own).
        case shared(any RunHistory)
    }

    let runs: Runs
    public let metrics: RunMetrics
    private let live = Mutex<LiveRun?>(nil)
    private let detail = LiveDetail()
    let logger: Logger
    /// Starts or stops a run (through the master's loop); nil: the page cannot.
    let control: (@Sendable (RunControlRequest.Action) async -> RunControlRequest.Answer)?
    /// The master's token: starts and stops must present it (`Authorization: Bearer …`).
    let token: String?

    public init(
        runs: Runs, metrics: RunMetrics = RunMetrics(), token: String? = nil,
        control: (@Sendable (RunControlRequest.Action) async -> RunControlRequest.Answer)? = nil, logger: Logger
    ) {
        self.runs = runs
        self.metrics = metrics
        self.token = token
        self.control = control
        self.logger = logger
    }

    /// Where the current run stands (once a second, from the master).
    public func update(_ progress: RunProgress) {
        let run = LiveRun(progress, detail: detail.snapshot(runId: progress.runId, states: progress.slaves))
        live.withLock { $0 = run }
        metrics.update(runId: run.runId, running: run.running, lost: run.lost)
    }

    /// A window newly stored in the current run.
    public func stored(_ window: SummaryWindow) {
        metrics.record(window)
        detail.record(window)
    }

    var current: LiveRun? { live.withLock { $0 } }

    /// Serves on `host:port` until cancelled; `listening` gets the port bound (port 0: any free one).
    public func run(host: String, port: Int, listening: @escaping @Sendable (Int) async -> Void) async throws {
        let router = Router(context: WebRequestContext.self)
        router.get("/") { _, _ in try await self.html { try self.dashboard() } }
        router.get("/runs/:id") { _, context in
            let id = try context.parameters.require("id", as: Int64.self)
            return try await self.html { try self.withStore { store in try HTMLReport(store: store, runId: id).html } }
        }
        router.get("/api/runs") { _, _ in
            try await self.json { try self.withStore { try RunsList(store: $0).json } }
        }
        router.get("/api/runs/:id") { _, context in
            let id = try context.parameters.require("id", as: Int64.self)
            return try await self.json { try self.withStore { try RunReport(store: $0, runId: id).json } }
        }
        router.get("/api/live") { _, _ in self.liveEvents() }
        // Browsers ask for it on every page: nothing to show, and no 404 in their console.
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
        router.get("/api/runs/current") { _, _ in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard let run = self.current, let data = try? encoder.encode(run) else {
                throw HTTPError(.notFound, message: "no run yet on this master")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/api/runs") { request, context in try await self.runControl(.start, request, context) }
        router.post("/api/runs/current/stop") { request, context in try await self.runControl(.stop, request, context) }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: self.metrics.exposition())))
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "goloadtest"),
            onServerRunning: { channel in await listening(channel.localAddress?.port ?? port) },
            logger: Logger(label: "goloadtest.http", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await app.run()
    }

    /// Who may start and stop runs: with a token, whoever presents it; without one, only this
    /// machine (loopback).
    func authorize(_ request: Request, _ context: WebRequestContext) throws {
        if let token {
            let presented = request.headers[.authorization] ?? ""
            guard presented.hasPrefix("Bearer "), Token.matches(String(presented.dropFirst(7)), token) else {
                throw HTTPError(.unauthorized, message: "this master has a token: send Authorization: Bearer TOKEN")
            }
            return
        }
        guard let address = context.remoteAddress?.ipAddress, Self.isLoopback(address) else {
            throw HTTPError(
                .forbidden, message: "this master has no token: runs are started and stopped only from this machine (loopback)")
        }
    }

    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address.hasPrefix("::ffff:127.")
    }

    func runControl(_ action: RunControlRequest.Action, _ request: Request, _ context: WebRequestContext) async throws -> Response {
        try authorize(request, context)
        guard let control else { throw HTTPError(.notFound, message: "this master does not take runs from the page") }
        let (status, body): (HTTPResponse.Status, String)
        switch await control(action) {
        case .started(let runId): (status, body) = (.created, "{\"runId\":\(runId),\"started\":true}")
        case .stopping(let runId): (status, body) = (.accepted, "{\"runId\":\(runId),\"stopping\":true}")
        case .refused(let reason): throw HTTPError(.conflict, message: reason)
        }
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The stored runs for one request (a file opened read-only, closed after).
    func withStore<T>(_ body: (any RunHistory) throws -> T) throws -> T {
        switch runs {
        case .file(let path):
            let store = try RunStore.openReadOnly(path: path)
            defer { store.close() }
            return try body(store)
        case .shared(let history):
            return try body(history)
        }
    }

    /// `body` on a thread of its own: reading a big run takes a while.
    func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }

    func html(_ body: @escaping @Sendable () throws -> String) async throws -> Response {
        try await respond(contentType: "text/html; charset=utf-8", body)
    }

    func json(_ body: @escaping @Sendable () throws -> String) async throws -> Response {
        try await respond(contentType: "application/json", body)
    }

    private func respond(contentType: String, _ body: @escaping @Sendable () throws -> String) async throws -> Response {
        do {
            let text = try await offThread(body)
            return Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
        } catch let error as StoreError {
            if case .unknownRun = error { throw HTTPError(.notFound, message: "\(error)") }
            throw HTTPError(.serviceUnavailable, message: "\(error)")
        } catch {
            throw HTTPError(.internalServerError, message: "\(error)")
        }
    }

    /// Server-sent events: where the current run stands, every second, until the client goes.
    func liveEvents() -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                while !Task.isCancelled {
                    let data = (try? encoder.encode(self.current)) ?? Data("null".utf8)
                    try await writer.write(ByteBuffer(string: "data: \(String(decoding: data, as: UTF8.self))\n\n"))
                    try await Task.sleep(for: .seconds(1))
                }
                try await writer.finish(nil)
            })
    }
}
