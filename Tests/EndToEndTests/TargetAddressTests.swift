import Foundation
import Testing

/// A target named by a host name with several addresses works whenever one of them does, as
/// with curl and wrk: the name is resolved once per run, its addresses tried in order.
@Suite("Targets behind a name with several addresses")
struct TargetAddressTests {
    /// Resolves to ::1 and 127.0.0.1 (`make test` adds it to /etc/hosts when it can).
    static let dualName = "goloadtest-dual"

    /// A TCP socket bound to `host` (127.0.0.1 or ::1) and `port`, not listening; nil if the
    /// port is taken there.
    static func bindWithoutListening(_ host: String, port: Int) -> Int32? {
        let v6 = host.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var bound = false
        if v6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(port).bigEndian
            address.sin6_addr = in6addr_loopback
            bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
        guard bound else {
            close(fd)
            return nil
        }
        return fd
    }

    static func addresses(of name: String) -> Set<String> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, "80", &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var found: Set<String> = []
        var node = list
        while let entry = node {
            node = entry.pointee.ai_next
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 {
                found.insert(String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return found
    }

    @Test("a run at a name for ::1 and 127.0.0.1 with the target on only one of them: every request succeeds",
        arguments: ["127.0.0.1", "::1"])
    func oneAddressDead(listening: String) async throws {
        try #require(
            Self.addresses(of: Self.dualName) == ["::1", "127.0.0.1"],
            "\(Self.dualName) must resolve to ::1 and 127.0.0.1: add '::1 \(Self.dualName)' and '127.0.0.1 \(Self.dualName)' to /etc/hosts (make test does it when run as root)")
        let folder = try TemporaryDirectory()
        // The other address's port is held, bound and not listening: it refuses connections,
        // and no other test's server can take it meanwhile (if one has it, another port).
        var started: (target: ChildProcess, port: Int, dead: Int32)?
        for _ in 0..<5 where started == nil {
            let target = try ChildProcess(["target", "--host", listening, "--port", "0", "--threads", "1"], in: folder.url)
            let port = try #require(Int(try await target.waitForStderr(#"listening on http://.*:(\d+)/"#)))
            if let dead = Self.bindWithoutListening(listening == "::1" ? "127.0.0.1" : "::1", port: port) {
                started = (target, port, dead)
            } else {
                target.terminate()
            }
        }
        let (target, port, dead) = try #require(started)
        defer {
            target.terminate()
            close(dead)
        }
        let run = try await ChildProcess.run(
            ["run", "--url", "http://\(Self.dualName):\(port)/", "--tasks", "500", "--batch", "4", "--db", "runs.db"],
            in: folder.url, timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stderr)")
        if listening == "127.0.0.1" { #expect(try await targetRequests(port: port) == 500) }
        let csv = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "csv"], in: folder.url)
        #expect(csv.stdout.split(separator: "\r\n").last?.hasPrefix("1,total,,,,500,500,0,") == true, "\(csv.stdout)")
    }
}
