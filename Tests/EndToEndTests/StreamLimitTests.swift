import Foundation
import GRPCCore
import Protocol
import Testing

/// The master's HTTP/2 stream limit is advertised: a client (or a proxy) that multiplexes more
/// slaves on one connection than the limit queues the rest instead of losing the connection.
@Suite("The master's stream limit")
struct StreamLimitTests {
    @Test("12 slaves on one connection to a master that allows 8 streams: 8 welcomed, 4 queued, then let in as streams close")
    func queued() async throws {
        let folder = try TemporaryDirectory()
        let (master, port) = try await startMaster(["--db", "runs.db", "--max-streams-per-connection", "8", "--slave-timeout", "60s"], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        var streams: [HostilePeer.Commands] = []
        for index in 0..<8 {
            let commands = peer.connect("s\(index)", session: "session-\(index)")
            _ = try await commands.next(.welcome)
            streams.append(commands)
        }
        let queued = (8..<12).map { peer.connect("s\($0)", session: "session-\($0)") }
        // Over the limit: waiting in the client, not refused, and the connection lives on.
        try await Task.sleep(for: .seconds(1))
        for commands in queued {
            await #expect(throws: (any Error).self) { try await commands.next(.welcome, timeout: .milliseconds(10)) }
        }

        for commands in streams.prefix(4) { commands.close() }
        for commands in queued { _ = try await commands.next(.welcome) }
        // Two more closed make room for calls: the two that stayed from the first eight are
        // still connected, their heartbeats taken.
        for commands in streams[4..<6] { commands.close() }
        for index in 6..<8 { try await peer.heartbeat("s\(index)", session: "session-\(index)", runId: 0) }
        #expect(!master.stderr.contains("PROTOCOL_ERROR"), "\(master.stderr)")
        for commands in streams + queued { commands.close() }
    }

    @Test("--max-streams-per-connection out of range is refused")
    func range() async throws {
        let folder = try TemporaryDirectory()
        for value in ["0", "2000000", "-1"] {
            let master = try await ChildProcess.run(
                ["master", "--port", "0", "--db", "runs.db", "--max-streams-per-connection", value], in: folder.url)
            #expect(master.status == 64, "\(value)")
            #expect(master.stderr.contains("--max-streams-per-connection must be between 1 and 1000000") || value == "-1", "\(master.stderr)")
        }
    }
}
