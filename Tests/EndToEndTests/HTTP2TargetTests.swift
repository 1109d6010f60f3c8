import Foundation
import Testing

/// HTTP/2 targets that close, reset, refuse or break the protocol, through the real binary:
/// nginx where it can be made to, a scripted server where nginx never would.
@Suite("HTTP/2 targets that refuse, reset and break the protocol")
struct HTTP2TargetTests {
    @Test("a GOAWAY every 50 requests (nginx's keepalive_requests): the streams it refused are sent again, none fails")
    func goawayRetries() async throws {
        let folder = try TemporaryDirectory()
        let nginx = try await TestNginx(in: folder.url, pki: nil, http2: true, keepaliveRequests: 50)
        defer { nginx.stop() }
        let result = try await TLSTargetTests.run(
            ["--url", "http://127.0.0.1:\(nginx.port)/", "--http2", "--connections", "2", "--batch", "16", "--tasks", "1000"],
            in: folder.url)
        #expect(result.status == 0, "\(result.stderr)")
        let served = try nginx.served()
        #expect(served.count == 1000)
        #expect(result.total["successes"] as? Int == 1000, "\(result.total)")
        #expect(result.total["failures"] as? Int == 0, "\(result.total)")
        // At most 50 requests per connection: at least 20 connections, each one counted.
        let connections = try #require(result.total["connections"] as? Int)
        #expect(connections == Set(served.map(\.connection)).count)
        #expect(connections >= 20, "\(connections) connections")
    }

    @Test("the server's stream limit is kept: 16 requests at once on one connection that allows 4")
    func streamLimit() async throws {
        let folder = try TemporaryDirectory()
        let nginx = try await TestNginx(in: folder.url, pki: nil, http2: true, maxStreams: 4)
        defer { nginx.stop() }
        let result = try await TLSTargetTests.run(
            ["--url", "http://127.0.0.1:\(nginx.port)/", "--http2", "--connections", "1", "--batch", "16", "--tasks", "400"],
            in: folder.url)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.total["successes"] as? Int == 400, "\(result.total)")
        #expect(try nginx.served().count == 400)
        // nginx refuses streams over its limit and closes the connection (PROTOCOL_ERROR) when
        // more than twice its limit come at once: one connection and every request served on it
        // mean none went over.
        #expect(result.total["connections"] as? Int == 1)
    }

    @Test("request bodies larger than the server's windows and frames: sent within them, every request served")
    func bodies() async throws {
        let folder = try TemporaryDirectory()
        let nginx = try await TestNginx(in: folder.url, pki: nil, http2: true)
        defer { nginx.stop() }
        // nginx starts streams with a 64 KiB window and takes frames of 16 KiB: a body over
        // either that ignored them would be a FLOW_CONTROL_ERROR or FRAME_SIZE_ERROR.
        try Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0) }).write(to: folder.url.appendingPathComponent("body.bin"))
        let result = try await TLSTargetTests.run(
            ["--url", "http://127.0.0.1:\(nginx.port)/", "--http2", "--connections", "1", "--batch", "8", "--tasks", "40",
             "--method", "POST", "--body-file", folder.path("body.bin")],
            in: folder.url)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.total["successes"] as? Int == 40, "\(result.total)")
        #expect(try nginx.served().count == 40)
        #expect(result.total["connections"] as? Int == 1)
    }

    @Test("a targets file over HTTP/2: each stream sends its own request and body, and each name counts its own results")
    func targetsFile() async throws {
        let folder = try TemporaryDirectory()
        let nginx = try await TestNginx(in: folder.url, pki: nil, http2: true)
        defer { nginx.stop() }
        try Data(repeating: 0x62, count: 100_000).write(to: folder.url.appendingPathComponent("body.bin"))
        let targets = """
            # name: ok
            # weight: 3
            GET http://127.0.0.1:\(nginx.port)/

            # name: reset
            GET http://127.0.0.1:\(nginx.port)/reset

            # name: post
            POST http://127.0.0.1:\(nginx.port)/
            @body.bin
            """
        try Data(targets.utf8).write(to: folder.url.appendingPathComponent("targets.txt"))
        let run = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--targets", "targets.txt", "--http2", "--connections", "2", "--batch", "8", "--tasks", "500"],
            in: folder.url, timeout: .seconds(90))
        #expect(run.status == 0, "\(run.stderr)")
        let served = try nginx.served()
        #expect(served.filter { $0.status == "200" }.count == 400)
        #expect(served.filter { $0.status == "444" }.count == 100)
        let json = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "json"], in: folder.url)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let names = try #require(object["names"] as? [[String: Any]])
        let totals = Dictionary(uniqueKeysWithValues: names.compactMap { section in
            (section["name"] as? String).map { ($0, section["total"] as? [String: Any] ?? [:]) }
        })
        #expect(totals["ok"]?["successes"] as? Int == 300, "\(totals)")
        #expect(totals["post"]?["successes"] as? Int == 100, "\(totals)")
        #expect(totals["reset"]?["failures"] as? Int == 100, "\(totals)")
        #expect((totals["reset"]?["errors"] as? [String: Int])?["stream reset"] == 100, "\(totals)")
    }

    @Test("a stream the server resets fails as \"stream reset\", explained once")
    func reset() async throws {
        let folder = try TemporaryDirectory()
        let nginx = try await TestNginx(in: folder.url, pki: nil, http2: true)
        defer { nginx.stop() }
        let result = try await TLSTargetTests.run(
            ["--url", "http://127.0.0.1:\(nginx.port)/reset", "--http2", "--connections", "1", "--batch", "4", "--tasks", "40"],
            in: folder.url)
        #expect((result.total["errors"] as? [String: Int]) == ["stream reset": 40], "\(result.total)")
        #expect(result.stderr.components(separatedBy: #"fail as "stream reset": the server reset a stream"#).count == 2, "\(result.stderr)")
        #expect(result.total["connections"] as? Int == 1, "a reset stream does not cost the connection")
    }

    @Test("--http2 to an HTTPS server without h2 in ALPN fails as \"tls handshake\" and says what to do")
    func noALPN() async throws {
        let folder = try TemporaryDirectory()
        let pki = try await TestPKI(in: folder.url)
        let nginx = try await TestNginx(in: folder.url, pki: pki)
        defer { nginx.stop() }
        let result = try await TLSTargetTests.run(
            ["--url", "https://127.0.0.1:\(nginx.port)/", "--ca-file", pki.path("ca.pem"), "--http2", "--tasks", "6", "--batch", "2"],
            in: folder.url)
        #expect((result.total["errors"] as? [String: Int]) == ["tls handshake": 6], "\(result.total)")
        #expect(result.stderr.contains("the server refused HTTP/2 in ALPN (no_application_protocol); drop --http2"), "\(result.stderr)")
        #expect(try nginx.served().isEmpty)
    }

    typealias Server = ScriptedHTTP2Server

    @Test(
        "a server that breaks HTTP/2 or refuses all work: every request fails with the right kind, explained, and the run ends",
        arguments: [
            // Nothing at all: no settings within --timeout.
            ([], "timeout", "no HTTP/2 settings from the server within 3.0 s"),
            // GOAWAY before any request, then close: no request can go.
            (Server.frame(Server.goaway, Server.bytes(0) + Server.bytes(1)), "goaway", "GOAWAY (PROTOCOL_ERROR) before any request"),
            // Settings that allow no stream.
            (Server.frame(Server.settings, [0, 3] + Server.bytes(0)), "other", "allows no streams"),
            // A frame far over the size the client allows.
            (Server.frame(Server.settings) + [0x10, 0, 0, 0, 0, 0, 0, 0, 1], "bad response", "a frame of 1048576 bytes"),
            // Settings that are not whole entries.
            (Server.frame(Server.settings, [0, 3, 0]), "bad response", "SETTINGS of 3 bytes"),
            // Every stream refused, the retries too: each request fails after one retry.
            (Server.frame(Server.settings)
                + [1, 3, 5, 7].flatMap { Server.frame(Server.rstStream, stream: $0, Server.bytes(7)) },
             "stream reset", "refused a stream twice"),
        ] as [([UInt8], String, String)])
    func hostile(answer: [UInt8], kind: String, reason: String) async throws {
        let server = try Server(answer: answer)
        defer { server.stop() }
        let folder = try TemporaryDirectory()
        let started = ContinuousClock.now
        let result = try await TLSTargetTests.run(
            ["--url", "http://127.0.0.1:\(server.port)/", "--http2", "--connections", "1", "--batch", "2", "--tasks", "2",
             "--timeout", "3s"],
            in: folder.url)
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(result.total["requests"] as? Int == 2, "\(result.total)")
        #expect((result.total["errors"] as? [String: Int]) == [kind: 2], "\(result.total)")
        #expect(result.stderr.contains(reason), "\(result.stderr)")
    }
}
