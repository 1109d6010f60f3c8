import ArgumentParser
import Target

struct TargetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "target",
        abstract: "Serve a small HTTP/1.1 target to aim load at.",
        discussion: """
            GET /               200
            GET /status/{code}  that status code
            GET /delay/{ms}     200 after that many milliseconds
            GET /stall/{every}/{for}  200, but every {every} ms the server stalls for {for} ms
            GET /stats          {"requests": N}, requests served so far
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8080
    @Option(help: "Event loop threads (default: one per core).") var threads: Int?

    func validate() throws {
        try validatePort(port)
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() async throws {
        let server: TargetServer
        do {
            server = try await TargetServer.start(
                .init(host: host, port: port, threads: threads ?? TargetServer.Configuration().threads))
        } catch {
            throw fail("cannot listen on \(host):\(port) (\(error)); pick another --port")
        }
        Output.note("target listening on http://\(host):\(server.port)/")
        try await server.waitUntilClosed()
    }
}
