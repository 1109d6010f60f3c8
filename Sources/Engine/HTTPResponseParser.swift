import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An incremental HTTP/1.1 response parser for the load engine: it finds where each response
/// ends and keeps only what a load test needs (status code, whether the connection stays open).
/// Headers are scanned in place; nothing is allocated per response.
///
/// Bodies are delimited by `Content-Length`, by `Transfer-Encoding: chunked`, or by the end of
/// the connection; 1xx, 204 and 304 responses (and responses to HEAD) have none. A `100
/// Continue`-style interim response is skipped.
struct HTTPResponseParser {
    enum ParseError: Error, Equatable {
        case badStatusLine
        case badHeader
        case headersTooLarge
        case badContentLength
        case badChunk
    }

    /// A whole response was read.
    struct Response: Equatable {
        var status: Int
        /// False when the server will close the connection after this response.
        var keepAlive: Bool
    }

    static let maximumHeaderBytes = 64 * 1024

    private enum State {
        case statusLine
        case headers
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
    }

    private var state = State.statusLine
    private var status = 0
    private var keepAlive = true
    private var contentLength: Int?
    private var chunked = false
    private var headerBytes = 0
    /// The request was HEAD: the response has no body whatever its headers say.
    var expectsNoBody = false

    /// Consumes what it can of `buffer` and returns the response it completed, if any. Call again
    /// while it returns one: a buffer may hold several. Bytes of an unfinished response stay in
    /// `buffer`, to be completed by the next read.
    mutating func parse(_ buffer: inout ByteBuffer) throws(ParseError) -> Response? {
        while true {
            switch state {
            case .statusLine:
                guard let line = try nextLine(&buffer) else { return nil }
                try parseStatusLine(line)
                state = .headers

            case .headers:
                guard let line = try nextLine(&buffer) else { return nil }
                if line.isEmpty {
                    if let response = try endOfHeaders() { return response }
                } else {
                    try parseHeader(line)
                }

            case .body(let remaining):
                let take = min(remaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: take)
                if take == remaining { return finish() }
                state = .body(remaining: remaining - take)
                return nil

            case .chunkSize:
                headerBytes = 0
                guard let line = try nextLine(&buffer) else { return nil }
                let size = try Self.chunkSize(line)
                state = size == 0 ? .trailers : .chunkData(remaining: size)

            case .chunkData(let remaining):
                let take = min(remaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: take)
                guard take == remaining else {
                    state = .chunkData(remaining: remaining - take)
                    return nil
                }
                state = .chunkDataEnd

            case .chunkDataEnd:
                headerBytes = 0
                guard let line = try nextLine(&buffer) else { return nil }
                guard line.isEmpty else { throw .badChunk }
                state = .chunkSize

            case .trailers:
                headerBytes = 0
                guard let line = try nextLine(&buffer) else { return nil }
                if line.isEmpty { return finish() }

            case .untilClose:
                buffer.moveReaderIndex(to: buffer.writerIndex)
                return nil
            }
        }
    }

    /// The connection closed. Returns the response it completes (one delimited by the close),
    /// or nil if a response was cut short or none had started.
    mutating func connectionClosed() -> Response? {
        if case .untilClose = state {
            return finish()
        }
        return nil
    }

    /// Whether part of a response has been read.
    var isMidResponse: Bool {
        if case .statusLine = state { return headerBytes > 0 }
        return true
    }

    // MARK: Pieces

    private mutating func finish() -> Response {
        let response = Response(status: status, keepAlive: keepAlive)
        let noBody = expectsNoBody
        self = HTTPResponseParser()
        expectsNoBody = noBody
        return response
    }

    /// The next line without its CRLF (a bare LF is accepted), as a view into `buffer`.
    private mutating func nextLine(_ buffer: inout ByteBuffer) throws(ParseError) -> ByteBufferView? {
        let view = buffer.readableBytesView
        // memchr, not a byte-by-byte walk through the collection.
        let offset = buffer.withUnsafeReadableBytes { bytes -> Int? in
            guard let base = bytes.baseAddress, let found = memchr(base, 0x0A, bytes.count) else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }
        guard let offset else {
            if headerBytes + view.count > Self.maximumHeaderBytes { throw .headersTooLarge }
            return nil
        }
        let newline = view.startIndex + offset
        var end = newline
        if end > view.startIndex, view[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = view[view.startIndex..<end]
        let consumed = newline + 1 - view.startIndex
        headerBytes += consumed
        if headerBytes > Self.maximumHeaderBytes { throw .headersTooLarge }
        buffer.moveReaderIndex(forwardBy: consumed)
        return line
    }

    private mutating func parseStatusLine(_ line: ByteBufferView) throws(ParseError) {
        // "HTTP/1.1 200 OK"
        guard line.count >= 12, line.starts(with: Self.http1Prefix) else { throw .badStatusLine }
        let minor = line[line.startIndex + 7]
        let digits = line[(line.startIndex + 9)..<(line.startIndex + 12)]
        guard line[line.startIndex + 8] == UInt8(ascii: " "), digits.allSatisfy(Self.isDigit) else {
            throw .badStatusLine
        }
        status = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard status >= 100 else { throw .badStatusLine }
        keepAlive = minor != UInt8(ascii: "0")
    }

    private mutating func parseHeader(_ line: ByteBufferView) throws(ParseError) {
        // Only three headers matter; most lines are passed over on their first byte.
        guard let first = line.first else { throw .badHeader }
        let lower = Self.lowercased(first)
        guard lower == UInt8(ascii: "c") || lower == UInt8(ascii: "t") else {
            guard line.contains(UInt8(ascii: ":")) else { throw .badHeader }
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .badHeader }
        let name = line[line.startIndex..<colon]
        let value = Self.trimmed(line[(colon + 1)...])
        if Self.equalsIgnoringCase(name, Self.contentLengthName) {
            guard !value.isEmpty, value.count <= 18, value.allSatisfy(Self.isDigit) else { throw .badContentLength }
            let length = value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            if let contentLength, contentLength != length { throw .badContentLength }
            contentLength = length
        } else if Self.equalsIgnoringCase(name, Self.transferEncodingName) {
            chunked = Self.containsIgnoringCase(value, Self.chunkedToken)
        } else if Self.equalsIgnoringCase(name, Self.connectionName) {
            if Self.containsIgnoringCase(value, Self.closeToken) {
                keepAlive = false
            } else if Self.containsIgnoringCase(value, Self.keepAliveToken) {
                keepAlive = true
            }
        }
    }

    /// Decides how the body is delimited; returns the response if it has none.
    private mutating func endOfHeaders() throws(ParseError) -> Response? {
        if (100..<200).contains(status) {
            // An interim response: the real one follows.
            let noBody = expectsNoBody
            self = HTTPResponseParser()
            expectsNoBody = noBody
            return nil
        }
        if expectsNoBody || status == 204 || status == 304 {
            return finish()
        }
        if chunked {
            state = .chunkSize
        } else if let contentLength {
            if contentLength == 0 { return finish() }
            state = .body(remaining: contentLength)
        } else {
            keepAlive = false
            state = .untilClose
        }
        return nil
    }

    private static func chunkSize(_ line: ByteBufferView) throws(ParseError) -> Int {
        var size = 0
        var digits = 0
        for byte in line {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A") + 10)
            case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"):
                // A chunk extension or padding follows: ignored.
                guard digits > 0 else { throw .badChunk }
                return size
            default:
                throw .badChunk
            }
            digits += 1
            guard digits <= 15 else { throw .badChunk }
            size = size * 16 + value
        }
        guard digits > 0 else { throw .badChunk }
        return size
    }

    private static let http1Prefix = Array("HTTP/1.".utf8)
    private static let contentLengthName = Array("content-length".utf8)
    private static let transferEncodingName = Array("transfer-encoding".utf8)
    private static let connectionName = Array("connection".utf8)
    private static let chunkedToken = Array("chunked".utf8)
    private static let closeToken = Array("close".utf8)
    private static let keepAliveToken = Array("keep-alive".utf8)

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    private static func trimmed(_ bytes: ByteBufferView.SubSequence) -> ByteBufferView.SubSequence {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return bytes[start..<end]
    }

    private static func equalsIgnoringCase(_ bytes: ByteBufferView.SubSequence, _ lowercase: [UInt8]) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        return zip(bytes, lowercase).allSatisfy { lowercased($0) == $1 }
    }

    /// Whether the comma-separated `value` has `token` as one of its elements.
    private static func containsIgnoringCase(_ value: ByteBufferView.SubSequence, _ token: [UInt8]) -> Bool {
        var start = value.startIndex
        while start < value.endIndex {
            let end = value[start...].firstIndex(of: UInt8(ascii: ",")) ?? value.endIndex
            if equalsIgnoringCase(trimmed(value[start..<end]), token) { return true }
            start = end == value.endIndex ? end : end + 1
        }
        return false
    }
}
