import NIOCore
import Testing

@testable import Engine

/// `GET_URL` parsing: what a good URL becomes on the wire, and how a bad one is refused.
@Suite("LoadTarget")
struct LoadTargetTests {
    struct Good: Sendable, CustomTestStringConvertible {
        var url: String
        var host: String
        var port: Int
        var requestTarget: String
        var hostHeader: String

        var testDescription: String { url }
    }

    static let good: [Good] = [
        Good(
            url: "http://127.0.0.1:8080/", host: "127.0.0.1", port: 8080, requestTarget: "/",
            hostHeader: "127.0.0.1:8080"),
        Good(
            url: "http://localhost/x?y=1", host: "localhost", port: 80, requestTarget: "/x?y=1", hostHeader: "localhost"
        ),
        Good(url: "http://[::1]:9000/p", host: "::1", port: 9000, requestTarget: "/p", hostHeader: "[::1]:9000"),
        Good(url: "http://[::1]/", host: "::1", port: 80, requestTarget: "/", hostHeader: "[::1]"),
        Good(url: "http://example.com", host: "example.com", port: 80, requestTarget: "/", hostHeader: "example.com"),
        Good(
            url: "http://example.com?q=1", host: "example.com", port: 80, requestTarget: "/?q=1",
            hostHeader: "example.com"),
        Good(
            url: "http://example.com/a/b#top", host: "example.com", port: 80, requestTarget: "/a/b",
            hostHeader: "example.com"),
        Good(
            url: "  http://10.0.0.2:65535/load  ", host: "10.0.0.2", port: 65535, requestTarget: "/load",
            hostHeader: "10.0.0.2:65535"),
        Good(
            url: "HTTP://Example.com:1/", host: "Example.com", port: 1, requestTarget: "/", hostHeader: "Example.com:1"),
    ]

    @Test("a good URL gives its host, port and request target, and a ready GET request", arguments: good)
    func parsesGoodURL(_ good: Good) throws {
        let target = try LoadTarget(url: good.url)
        #expect(target.host == good.host)
        #expect(target.port == good.port)
        #expect(target.requestTarget == good.requestTarget)
        let request = String(buffer: target.request)
        #expect(request.hasPrefix("GET \(good.requestTarget) HTTP/1.1\r\nHost: \(good.hostHeader)\r\n"), "\(request)")
        #expect(request.hasSuffix("\r\n\r\n"))
        #expect(request.contains("User-Agent: goloadtest\r\n"))
    }

    static let bad: [(url: String, mentions: String)] = [
        ("", "empty"),
        ("   ", "empty"),
        ("ftp://x", "http://"),
        ("127.0.0.1:8080/", "http://"),
        ("http://", "host"),
        ("http:///path", "host"),
        ("http://:8080/", "host"),
        ("http://user@host/", "host"),
        ("http://host:99999/", "99999"),
        ("http://host:0/", "port"),
        ("http://host:abc/", "abc"),
        ("http://host:/", "port"),
        ("http://[::1/", "IPv6"),
        ("http://[::1]x/", "IPv6"),
        ("http://host/a b", "spaces"),
        ("http://host/a\nX-Injected:1", "line breaks"),
        ("http://host/a\r\nX-Injected:1", "line breaks"),
    ]

    @Test("a bad URL is refused with invalidURL and a message that says what is wrong", arguments: bad)
    func refusesBadURL(_ url: String, _ mentions: String) {
        let error = #expect(throws: EngineError.self) { try LoadTarget(url: url) }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains(mentions) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("http://127.0.0.1:8080/") == true, "the message shows a URL that works")
    }

    @Test("https:// URLs: TLS, port 443 by default, left out of Host and :authority only when it is the default")
    func https() throws {
        let plain = try LoadTarget(url: "HTTPS://example.test/a?b=1")
        #expect(plain.isTLS && plain.port == 443 && plain.host == "example.test" && plain.requestTarget == "/a?b=1")
        #expect(plain.authority == "example.test")
        #expect(String(buffer: plain.request).hasPrefix("GET /a?b=1 HTTP/1.1\r\nHost: example.test\r\n"))
        let other = try LoadTarget(url: "https://[::1]:8443/")
        #expect(other.isTLS && other.port == 8443 && other.host == "::1" && other.authority == "[::1]:8443")
        let http = try LoadTarget(url: "http://example.test:443/")
        #expect(!http.isTLS && http.authority == "example.test:443")
    }

    @Test("the request carries the user agent it was given")
    func userAgent() throws {
        let target = try LoadTarget(url: "http://127.0.0.1:8080/", userAgent: "probe/2")
        #expect(String(buffer: target.request).contains("\r\nUser-Agent: probe/2\r\n"))
    }

    @Test("a method, headers and a body go into the request, with its Content-Length")
    func methodHeadersBody() throws {
        let target = try LoadTarget(
            url: "http://127.0.0.1:8080/api", method: "post", headers: ["Content-Type: application/json"],
            body: Array("{\"a\":1}".utf8))
        #expect(target.method == "POST")
        let request = String(buffer: target.request)
        #expect(request.hasPrefix("POST /api HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"), "\(request)")
        #expect(request.contains("\r\nContent-Type: application/json\r\n"))
        #expect(request.contains("\r\nContent-Length: 7\r\n"))
        #expect(request.hasSuffix("\r\n\r\n{\"a\":1}"))
    }

    @Test("a header given by the user replaces the default one")
    func headerOverride() throws {
        let target = try LoadTarget(url: "http://127.0.0.1:8080/", headers: ["Host: example.org", "Accept:text/html"])
        let lines = String(buffer: target.request).split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.filter { $0.lowercased().hasPrefix("host:") } == ["Host: example.org"])
        #expect(lines.filter { $0.lowercased().hasPrefix("accept:") } == ["Accept: text/html"])
    }

    static let badShapes: [(method: String, header: String?, mentions: String)] = [
        ("", nil, "method"),
        ("GE T", nil, "method"),
        ("GET\r\nX: 1", nil, "method"),
        ("GET", "NoColon", "NoColon"),
        ("GET", ": no name", "header"),
        ("GET", "X-Evil: 1\r\nInjected: 2", "header"),
    ]

    @Test("a bad method or header is refused before any request is built", arguments: badShapes)
    func refusesBadShape(_ method: String, _ header: String?, _ mentions: String) {
        let error = #expect(throws: EngineError.self) {
            try LoadTarget(url: "http://127.0.0.1:8080/", method: method, headers: header.map { [$0] } ?? [])
        }
        #expect(error?.message.contains(mentions) == true, "\(error?.message ?? "")")
    }
}
