import Foundation

/// Certificates made for one test with the `openssl` command: a CA, a server certificate for
/// 127.0.0.1 and localhost signed by it, one for the name localhost only, a client certificate
/// signed by it, and a client certificate from another CA.
struct TestPKI {
    let folder: URL
    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    init(in folder: URL) async throws {
        self.folder = folder
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=goloadtest test CA", "-keyout", "ca.key", "-out", "ca.pem"],
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=another CA", "-keyout", "other-ca.key", "-out", "other-ca.pem"],
        ]
        for step in steps { try await Self.openssl(step, in: folder) }
        try await issue("server", by: "ca", subjectAltName: "IP:127.0.0.1,IP:::1,DNS:localhost", in: folder)
        try await issue("localhost", by: "ca", subjectAltName: "DNS:localhost", in: folder)
        try await issue("client", by: "ca", subjectAltName: "DNS:slave", in: folder)
        try await issue("other-client", by: "other-ca", subjectAltName: "DNS:slave", in: folder)
    }

    private func issue(_ name: String, by ca: String, subjectAltName: String, in folder: URL) async throws {
        try "subjectAltName=\(subjectAltName)\n".write(
            to: folder.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
        try await Self.openssl(
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=\(name)",
             "-keyout", "\(name).key", "-out", "\(name).csr"], in: folder)
        try await Self.openssl(
            ["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial",
             "-days", "2", "-extfile", "\(name).ext", "-out", "\(name).pem"], in: folder)
    }

    private static func openssl(_ arguments: [String], in folder: URL) async throws {
        let result = try await ChildProcess.runTool("/usr/bin/openssl", arguments, in: folder)
        guard result.status == 0 else { throw ChildProcessError.failed("openssl \(arguments.joined(separator: " ")): \(result.stderr)") }
    }
}

/// nginx on 127.0.0.1 for one test, answering every request with 200 "ok", logging one line
/// per request with its protocol and connection number.
final class TestNginx {
    let port: Int
    let prefix: URL
    /// nginx in the foreground: a daemon would keep the pipes of the process that started it.
    private let process: ChildProcess

    /// `pki`: listen with TLS, with its certificate `certificate`; `http2`: HTTP/2 (h2 over TLS,
    /// h2c without); `clientCA`: ask for a client certificate signed by that CA;
    /// `keepaliveRequests`: requests per connection before nginx closes it (over HTTP/2, with a
    /// GOAWAY); `maxStreams`: HTTP/2 streams at once per connection. `/reset` closes without an
    /// answer (over HTTP/2, resets the stream).
    init(
        in folder: URL, pki: TestPKI?, certificate: String = "server", http2: Bool = false, clientCA: String? = nil,
        keepaliveRequests: Int = 100_000, maxStreams: Int = 128
    ) async throws {
        prefix = folder.appendingPathComponent("nginx")
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("logs"), withIntermediateDirectories: true)
        port = try freePort()
        var listen = "listen 127.0.0.1:\(port)"
        if pki != nil { listen += " ssl" }
        if http2 { listen += " http2" }
        var tls = ""
        if let pki {
            tls = "ssl_certificate \(pki.path("\(certificate).pem")); ssl_certificate_key \(pki.path("\(certificate).key"));"
            if let clientCA { tls += " ssl_client_certificate \(clientCA); ssl_verify_client on;" }
        }
        let configuration = """
            worker_processes 1;
            daemon off;
            pid \(prefix.path)/nginx.pid;
            error_log \(prefix.path)/logs/error.log;
            events { worker_connections 1024; }
            http {
              log_format counted '$server_protocol $connection $status';
              access_log \(prefix.path)/logs/access.log counted;
              keepalive_requests \(keepaliveRequests);
              http2_max_concurrent_streams \(maxStreams);
              server {
                \(listen);
                \(tls)
                location / { return 200 "ok\\n"; }
                location /reset { return 444; }
              }
            }
            """
        try configuration.write(to: prefix.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        process = try ChildProcess(
            ["-p", prefix.path, "-c", "nginx.conf"], in: folder, executable: URL(fileURLWithPath: "/usr/sbin/nginx"))
        // Up once it accepts a connection.
        let deadline = ContinuousClock.now + .seconds(10)
        while !canConnect(port: port) {
            guard ContinuousClock.now < deadline, process.isRunning else {
                process.terminate()
                throw ChildProcessError.failed("nginx did not listen on \(port): \(process.stderr)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// One entry per request served: (protocol, connection number, status).
    func served() throws -> [(protocol: String, connection: String, status: String)] {
        let log = try String(contentsOf: prefix.appendingPathComponent("logs/access.log"), encoding: .utf8)
        return log.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ").map(String.init)
            return parts.count == 3 ? (parts[0], parts[1], parts[2]) : nil
        }
    }

    func stop() {
        process.terminate()
    }

    deinit { stop() }
}

/// A TCP socket bound to a free port of 127.0.0.1, not listening: its descriptor and port.
func boundLoopbackSocket() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard fd >= 0, bound else {
        close(fd)
        throw ChildProcessError.failed("cannot bind a socket to 127.0.0.1")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A TCP port nobody listens on right now.
func freePort() throws -> Int {
    let (fd, port) = try boundLoopbackSocket()
    close(fd)
    return port
}

func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
