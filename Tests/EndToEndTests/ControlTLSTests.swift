import Foundation
import Testing

/// TLS between master and slaves, through the real binaries: with a client CA the master takes
/// only slaves whose certificate that CA signed; the others are refused on both sides, loudly,
/// and leave nothing in the database.
@Suite("TLS between master and slaves")
struct ControlTLSTests {
    @Test("mutual TLS: no certificate and another CA's are refused; the right one runs a full run")
    func mutualTLS() async throws {
        let folder = try TemporaryDirectory()
        let pki = try await TestPKI(in: folder.url)
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, port) = try await startMaster(
            ["--expect-slaves", "1", "--db", "runs.db", "--tls-cert", pki.path("server.pem"), "--tls-key",
             pki.path("server.key"), "--tls-client-ca", pki.path("ca.pem")],
            in: folder.url)
        defer { master.terminate() }
        func slave(_ name: String, _ tls: [String]) throws -> ChildProcess {
            try ChildProcess(
                ["slave", "--master", "127.0.0.1:\(port)", "--name", name, "--tasks", "200", "--batch", "2",
                 "--url", "http://127.0.0.1:\(targetPort)/", "--connect-timeout", "2"] + tls,
                in: folder.url)
        }
        let anonymous = try slave("anonymous", ["--tls-ca", pki.path("ca.pem")])
        #expect(try await anonymous.waitForExit() != 0)
        #expect(anonymous.stderr.contains("over TLS: is it running with --tls-cert"), "\(anonymous.stderr)")
        let stranger = try slave(
            "stranger", ["--tls-ca", pki.path("ca.pem"), "--tls-cert", pki.path("other-client.pem"), "--tls-key", pki.path("other-client.key")])
        #expect(try await stranger.waitForExit() != 0)
        let plaintext = try slave("plaintext", [])
        #expect(try await plaintext.waitForExit() != 0)
        #expect(plaintext.stderr.contains("a master with TLS needs --tls-ca"), "\(plaintext.stderr)")
        _ = try await master.waitForStderr("refused a connection from .*TLS failed")
        #expect(try await targetRequests(port: targetPort) == 0)

        let trusted = try slave(
            "trusted", ["--tls-ca", pki.path("ca.pem"), "--tls-cert", pki.path("client.pem"), "--tls-key", pki.path("client.key")])
        #expect(try await trusted.waitForExit() == 0, "\(trusted.stderr)")
        #expect(try await master.waitForExit() == 0, "\(master.stderr)")
        #expect(try await targetRequests(port: targetPort) == 200)
        let runs = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "csv"], in: folder.url)
        let rows = runs.stdout.split(separator: "\r\n").dropFirst()
        #expect(rows.count == 2, "\(runs.stdout)")
        #expect(rows.first?.contains(",trusted,") == true, "\(runs.stdout)")
        #expect(rows.last?.hasPrefix("1,total,,,,200,200,0,") == true, "\(runs.stdout)")
    }

    @Test("a master on a non-loopback address with neither TLS nor a token says so at start")
    func warnsWhenOpen() async throws {
        let folder = try TemporaryDirectory()
        let master = try ChildProcess(["master", "--host", "0.0.0.0", "--port", "0", "--db", "runs.db"], in: folder.url)
        defer { master.terminate() }
        _ = try await master.waitForStderr("WARNING: listening on 0.0.0.0 with neither TLS nor a token")
        let quiet = try ChildProcess(["master", "--host", "127.0.0.1", "--port", "0", "--db", "other.db"], in: folder.url)
        defer { quiet.terminate() }
        _ = try await quiet.waitForStderr(#"listening on 127\.0\.0\.1:(\d+)"#)
        #expect(!quiet.stderr.contains("WARNING"))
    }
}
