import Foundation
import Testing

/// HTTPS and HTTP/2 targets through the real binary, against nginx on 127.0.0.1 with
/// certificates made for the test: what nginx served is what was stored.
@Suite("HTTPS and HTTP/2 targets")
struct TLSTargetTests {
    /// `run` with `arguments`, then the run's JSON report (its `total` row).
    static func run(_ arguments: [String], in folder: URL) async throws -> (status: Int32, stderr: String, total: [String: Any], text: String) {
        let run = try await ChildProcess.run(["run", "--db", "runs.db"] + arguments, in: folder, timeout: .seconds(90))
        let json = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "json"], in: folder)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stderr)")
        let total = try #require(object["total"] as? [String: Any])
        let text = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db"], in: folder)
        return (run.status, run.stderr, total, text.stdout)
    }

    @Test("an HTTPS run with the test CA: every request served is stored, with its connections and handshakes")
    func verified() async throws {
        let folder = try TemporaryDirectory()
        let pki = try await TestPKI(in: folder.url)
        let nginx = try await TestNginx(in: folder.url, pki: pki)
        defer { nginx.stop() }
        let result = try await Self.run(
            ["--url", "https://127.0.0.1:\(nginx.port)/", "--ca-file", pki.path("ca.pem"), "--tasks", "300", "--batch", "4"],
            in: folder.url)
        #expect(result.status == 0, "\(result.stderr)")
        let served = try nginx.served()
        #expect(served.count == 300)
        #expect(served.allSatisfy { $0.protocol == "HTTP/1.1" && $0.status == "200" })
        #expect(result.total["successes"] as? Int == 300)
        // Keep-alive: one handshake per connection, not per request.
        let connections = try #require(result.total["connections"] as? Int)
        #expect(connections == Set(served.map(\.connection)).count)
        #expect((4...8).contains(connections), "\(connections) connections")
        let handshakes = try #require(result.total["handshakeLatency"] as? [String: Any])
        #expect(handshakes["count"] as? Int == connections, "\(handshakes)")
        #expect((handshakes["p50Ms"] as? Double ?? 0) > 0, "\(handshakes)")
        #expect(result.text.contains("TLS handshake ms p50"), "\(result.text)")
        #expect(!result.text.contains("NOT VERIFIED"))
    }

    @Test("an untrusted certificate fails as \"certificate\", explained once; --insecure passes and says so")
    func untrustedThenInsecure() async throws {
        let folder = try TemporaryDirectory()
        let pki = try await TestPKI(in: folder.url)
        let nginx = try await TestNginx(in: folder.url, pki: pki)
        defer { nginx.stop() }
        let refused = try await Self.run(
            ["--url", "https://127.0.0.1:\(nginx.port)/", "--tasks", "50", "--batch", "2"], in: folder.url)
        #expect(try nginx.served().isEmpty)
        #expect(refused.total["failures"] as? Int == 50)
        #expect((refused.total["errors"] as? [String: Int]) == ["certificate": 50], "\(refused.total)")
        #expect(refused.stderr.components(separatedBy: #"fail as "certificate""#).count == 2, "\(refused.stderr)")

        let other = try TemporaryDirectory()
        let insecure = try await Self.run(
            ["--url", "https://127.0.0.1:\(nginx.port)/", "--insecure", "--tasks", "50", "--batch", "2"], in: other.url)
        #expect(insecure.status == 0, "\(insecure.stderr)")
        #expect(insecure.total["successes"] as? Int == 50)
        #expect(try nginx.served().count == 50)
        #expect(insecure.text.contains("TLS NOT VERIFIED"), "\(insecure.text)")
    }

    @Test("a certificate for the name localhost: https://localhost passes; another name, or the bare address, fails as \"certificate\"")
    func names() async throws {
        let folder = try TemporaryDirectory()
        let pki = try await TestPKI(in: folder.url)
        let nginx = try await TestNginx(in: folder.url, pki: pki, certificate: "localhost")
        defer { nginx.stop() }
        // localhost is also ::1, where nothing listens: the engine falls back on 127.0.0.1.
        let named = try await Self.run(
            ["--url", "https://localhost:\(nginx.port)/", "--ca-file", pki.path("ca.pem"), "--tasks", "20", "--batch", "2"],
            in: folder.url)
        #expect(named.status == 0, "\(named.stderr)")
        #expect(named.total["successes"] as? Int == 20, "\(named.total)")
        for host in [TargetAddressTests.dualName, "127.0.0.1"] {
            let other = try TemporaryDirectory()
            let wrong = try await Self.run(
                ["--url", "https://\(host):\(nginx.port)/", "--ca-file", pki.path("ca.pem"), "--tasks", "20", "--batch", "2"],
                in: other.url)
            #expect((wrong.total["errors"] as? [String: Int]) == ["certificate": 20], "\(host): \(wrong.total)")
        }
        #expect(try nginx.served().count == 20)
    }

    @Test("a target that does not speak TLS fails as \"tls handshake\"; one that never answers, within --timeout")
    func noTLS() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let plain = try await Self.run(["--url", "https://127.0.0.1:\(port)/", "--tasks", "10", "--batch", "2"], in: folder.url)
        #expect((plain.total["errors"] as? [String: Int]) == ["tls handshake": 10], "\(plain.total)")

        // Accepts TCP (the kernel's queue) and never says a word.
        let (silent, silentPort) = try boundLoopbackSocket()
        defer { close(silent) }
        try #require(listen(silent, 16) == 0)
        let other = try TemporaryDirectory()
        let started = ContinuousClock.now
        let mute = try await Self.run(
            ["--url", "https://127.0.0.1:\(silentPort)/", "--tasks", "2", "--batch", "2", "--timeout", "1s"], in: other.url)
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect((mute.total["errors"] as? [String: Int]) == ["tls handshake": 2], "\(mute.total)")
        #expect(mute.stderr.contains("no TLS handshake within 1.0 s"), "\(mute.stderr)")
    }

    @Test("a target that asks for a client certificate: refused without one, served with --cert and --key")
    func clientCertificate() async throws {
        let folder = try TemporaryDirectory()
        let pki = try await TestPKI(in: folder.url)
        let nginx = try await TestNginx(in: folder.url, pki: pki, clientCA: pki.path("ca.pem"))
        defer { nginx.stop() }
        let without = try await Self.run(
            ["--url", "https://127.0.0.1:\(nginx.port)/", "--ca-file", pki.path("ca.pem"), "--tasks", "20", "--batch", "2"],
            in: folder.url)
        #expect(without.total["successes"] as? Int == 0, "\(without.total)")
        #expect((without.total["statusCodes"] as? [String: Int])?["400"] == 20, "\(without.total)")

        let other = try TemporaryDirectory()
        let with = try await Self.run(
            ["--url", "https://127.0.0.1:\(nginx.port)/", "--ca-file", pki.path("ca.pem"), "--cert", pki.path("client.pem"),
             "--key", pki.path("client.key"), "--tasks", "20", "--batch", "2"],
            in: other.url)
        #expect(with.status == 0, "\(with.stderr)")
        #expect(with.total["successes"] as? Int == 20, "\(with.total)")
    }

    @Test("HTTP/2 over TLS: stored == served, 16 streams multiplexed on 2 connections", arguments: [true, false])
    func http2(tls: Bool) async throws {
        let folder = try TemporaryDirectory()
        let pki = try await TestPKI(in: folder.url)
        let nginx = try await TestNginx(in: folder.url, pki: tls ? pki : nil, http2: true)
        defer { nginx.stop() }
        let scheme = tls ? "https" : "http"
        var arguments = ["--url", "\(scheme)://127.0.0.1:\(nginx.port)/", "--http2", "--connections", "2", "--batch", "16", "--tasks", "1000"]
        if tls { arguments += ["--ca-file", pki.path("ca.pem")] }
        let result = try await Self.run(arguments, in: folder.url)
        #expect(result.status == 0, "\(result.stderr)")
        let served = try nginx.served()
        #expect(served.count == 1000)
        #expect(served.allSatisfy { $0.protocol == "HTTP/2.0" && $0.status == "200" })
        #expect(result.total["successes"] as? Int == 1000)
        #expect(Set(served.map(\.connection)).count == 2)
        #expect(result.total["connections"] as? Int == 2)
        let json = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "json"], in: folder.url)
        #expect(json.stdout.contains(#""http2" : true"#) && json.stdout.contains(#""connections" : 2"#), "\(json.stdout)")
    }

    @Test("TLS flags on an http:// target, and half a client certificate, are refused before anything runs")
    func mistakes() async throws {
        let folder = try TemporaryDirectory()
        let pki = try await TestPKI(in: folder.url)
        let cases: [([String], String)] = [
            (["--url", "http://127.0.0.1:9/", "--ca-file", pki.path("ca.pem")], "are for https:// targets"),
            (["--url", "https://127.0.0.1:9/", "--cert", pki.path("client.pem")], "go together"),
            (["--url", "https://127.0.0.1:9/", "--ca-file", folder.path("missing.pem")], "cannot be read"),
            (["--url", "https://127.0.0.1:9/", "--ca-file", pki.path("client.key")], "holds no PEM certificate"),
            (["--url", "http://127.0.0.1:9/", "--connections", "2"], "goes with --http2"),
            (["--url", "http://127.0.0.1:9/", "--http2", "--connections", "0"], "between 1 and 10000"),
            (["--url", "https://127.0.0.1:9/", "--insecure", "--ca-file", pki.path("ca.pem")], "one or the other"),
            (["--url", "https://127.0.0.1:9/", "--cert", pki.path("client.pem"), "--key", pki.path("ca.pem")], "holds no PEM private key"),
        ]
        for (arguments, message) in cases {
            let run = try await ChildProcess.run(["run", "--db", "runs.db", "--tasks", "1"] + arguments, in: folder.url)
            #expect(run.status != 0)
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
        // Refused before the database is touched: no run recorded.
        if FileManager.default.fileExists(atPath: folder.path("runs.db")) {
            let runs = try await ChildProcess.run(["runs", "--db", "runs.db", "--format", "csv"], in: folder.url)
            #expect(runs.stdout.split(separator: "\r\n").count <= 1, "\(runs.stdout)")
        }
    }
}
