import Foundation
import NIOCore

/// Where load goes: an `http://` or `https://` URL, parsed once, with the request pre-encoded.
public struct LoadTarget: Sendable, Equatable {
    public let url: String
    public let host: String
    public let port: Int
    /// `https://`: every connection is TLS.
    public let isTLS: Bool
    /// What `Host` (HTTP/1.1) and `:authority` (HTTP/2) carry: the host, and the port unless it
    /// is the scheme's default.
    public let authority: String
    /// Headers besides the pseudo-headers, for HTTP/2: the same as the HTTP/1.1 request's.
    public let headerFields: [(name: String, value: String)]
    public let body: [UInt8]
    /// Path and query, as sent on the request line.
    public let requestTarget: String
    public let method: String
    /// HEAD: its response has no body, whatever its headers say.
    let isHead: Bool
    /// The whole request as it goes on the wire, encoded once for every request of a run.
    public let request: ByteBuffer

    /// Whether `name` can name a header field: a token (RFC 9110 §5.1, §5.6.2).
    static func isFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(isTokenByte)
    }

    /// A byte of an HTTP token.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    public static func == (lhs: LoadTarget, rhs: LoadTarget) -> Bool {
        lhs.request == rhs.request && lhs.url == rhs.url && lhs.isTLS == rhs.isTLS
    }

    /// Parses `url`; throws `EngineError(.invalidURL)` with a hint if it is not a usable
    /// `http[s]://host[:port][/path]` URL. `source`: where the URL came from, when not from
    /// GET_URL or `--url` (a line of a targets file).
    public init(
        url: String, method: String = "GET", headers: [String] = [], body: [UInt8] = [],
        userAgent: String = "goloadtest", source: String? = nil
    ) throws(EngineError) {
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        func invalid(_ why: String) -> EngineError {
            EngineError(
                .invalidURL,
                "\(source ?? "GET_URL") \"\(url)\" \(why); expected something like http://127.0.0.1:8080/"
                    + (source == nil ? " (set GET_URL in .env or pass --url)" : "")
            )
        }
        guard !trimmed.isEmpty else { throw invalid("is empty") }
        let lower = trimmed.lowercased()
        let isTLS = lower.hasPrefix("https://")
        guard isTLS || lower.hasPrefix("http://") else { throw invalid("is not an http:// or https:// URL") }
        let rest = trimmed.dropFirst(isTLS ? "https://".count : "http://".count)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        guard !authority.isEmpty, !authority.contains("@") else { throw invalid("has no host") }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid("has an unterminated IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("has junk after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw invalid("has no host") }
        let defaultPort = isTLS ? 443 : 80
        var port = defaultPort
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else {
                throw invalid("has port \"\(portText)\", which is not 1...65535")
            }
            port = parsed
        }
        guard !path.utf8.contains(where: { $0 == 0x20 || $0 == 0x0D || $0 == 0x0A }) else {
            throw invalid("has spaces or line breaks in its path; percent-encode them")
        }

        let method = method.uppercased()
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw EngineError(.invalidURL, "method \"\(method)\" is not an HTTP method; use GET, POST, PUT, ...")
        }
        var extra = ""
        var fields: [(name: String, value: String)] = []
        var named: Set<String> = []
        for header in headers {
            guard let colon = header.firstIndex(of: ":"), colon != header.startIndex,
                !header.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A })
            else {
                throw EngineError(.invalidURL, "header \"\(header)\" is not of the form 'Name: value'")
            }
            let name = header[..<colon].trimmingCharacters(in: .whitespaces)
            let value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard Self.isFieldName(name) else {
                throw EngineError(.invalidURL, "header \"\(header)\" has a name that is not a token (letters, digits and !#$%&'*+-.^_`|~)")
            }
            named.insert(name.lowercased())
            extra += "\(name): \(value)\r\n"
            fields.append((name, value))
        }
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method), !named.contains("content-length") {
            extra += "Content-Length: \(body.count)\r\n"
            fields.append(("Content-Length", "\(body.count)"))
        }

        self.url = trimmed
        self.host = String(host)
        self.port = port
        self.isTLS = isTLS
        self.body = body
        self.requestTarget = path
        self.method = method
        self.isHead = method == "HEAD"
        let hostHeader = authority.hasPrefix("[") || port != defaultPort ? String(authority) : String(host)
        self.authority = fields.last(where: { $0.name.lowercased() == "host" })?.value ?? hostHeader
        var head = "\(method) \(path) HTTP/1.1\r\n"
        if !named.contains("host") { head += "Host: \(hostHeader)\r\n" }
        if !named.contains("user-agent") {
            head += "User-Agent: \(userAgent)\r\n"
            fields.insert(("user-agent", userAgent), at: 0)
        }
        if !named.contains("accept") {
            head += "Accept: */*\r\n"
            fields.insert(("accept", "*/*"), at: 0)
        }
        self.headerFields = fields.filter { $0.name.lowercased() != "host" }
        var request = ByteBuffer(string: head + extra + "\r\n")
        request.writeBytes(body)
        self.request = request
    }
}
