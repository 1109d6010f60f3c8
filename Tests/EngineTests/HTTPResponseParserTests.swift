import NIOCore
import Testing

@testable import Engine

/// The engine's response parser, without I/O: where each response ends, whatever way the bytes
/// are cut into reads.
@Suite("HTTPResponseParser")
struct HTTPResponseParserTests {
    typealias Response = HTTPResponseParser.Response

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var wire: String
        var responses: [Response]
        var head = false

        var testDescription: String { name }
    }

    static let ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

    static let cases: [Case] = [
        Case(name: "Content-Length", wire: ok, responses: [Response(status: 200, keepAlive: true)]),
        Case(
            name: "two responses in a row", wire: ok + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            responses: [Response(status: 200, keepAlive: true), Response(status: 404, keepAlive: true)]),
        Case(
            name: "chunked, with an extension and a trailer",
            wire:
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=1\r\n world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n"
                + ok,
            responses: [Response(status: 200, keepAlive: true), Response(status: 200, keepAlive: true)]),
        Case(
            name: "Connection: close", wire: "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy",
            responses: [Response(status: 503, keepAlive: false)]),
        Case(
            name: "HTTP/1.0 closes by default", wire: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
            responses: [Response(status: 200, keepAlive: false)]),
        Case(
            name: "HTTP/1.0 with keep-alive",
            wire: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
            responses: [Response(status: 200, keepAlive: true)]),
        Case(
            name: "204 and 304 have no body",
            wire: "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n" + ok,
            responses: [
                Response(status: 204, keepAlive: true), Response(status: 304, keepAlive: true),
                Response(status: 200, keepAlive: true),
            ]),
        Case(
            name: "an interim 100 Continue is skipped", wire: "HTTP/1.1 100 Continue\r\n\r\n" + ok,
            responses: [Response(status: 200, keepAlive: true)]),
        Case(
            name: "bare LF line ends and any header case",
            wire: "HTTP/1.1 201 Created\ncontent-LENGTH:  3 \n\nabc",
            responses: [Response(status: 201, keepAlive: true)]),
        Case(
            name: "a status line without a reason phrase", wire: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
            responses: [Response(status: 200, keepAlive: true)]),
        Case(
            name: "a response to HEAD has no body whatever its length",
            wire: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
            responses: [Response(status: 200, keepAlive: true), Response(status: 200, keepAlive: true)], head: true),
    ]

    /// Feeds `wire` in the pieces `cuts` makes, as reads arrive, keeping what the parser left.
    static func parse(_ wire: String, cutAt cuts: [Int], head: Bool = false) throws -> [Response] {
        let bytes = Array(wire.utf8)
        var parser = HTTPResponseParser()
        parser.expectsNoBody = head
        var buffer = ByteBuffer()
        var responses: [Response] = []
        var start = 0
        for end in cuts + [bytes.count] where end >= start {
            buffer.writeBytes(bytes[start..<end])
            start = end
            while let response = try parser.parse(&buffer) {
                responses.append(response)
            }
        }
        #expect(buffer.readableBytes == 0, "bytes left over: \(String(buffer: buffer))")
        return responses
    }

    @Test("every response is found, in one read", arguments: cases)
    func wholeReads(_ test: Case) throws {
        #expect(try Self.parse(test.wire, cutAt: [], head: test.head) == test.responses)
    }

    @Test("every response is found, whatever byte the read boundary falls on", arguments: cases)
    func everySplit(_ test: Case) throws {
        for cut in 1..<test.wire.utf8.count {
            let found = try Self.parse(test.wire, cutAt: [cut], head: test.head)
            #expect(found == test.responses, "split at byte \(cut)")
        }
    }

    @Test("every response is found when the bytes arrive one by one", arguments: cases)
    func byteByByte(_ test: Case) throws {
        let found = try Self.parse(test.wire, cutAt: Array(1..<test.wire.utf8.count), head: test.head)
        #expect(found == test.responses)
    }

    @Test("a body without a length ends with the connection")
    func closeDelimited() throws {
        var parser = HTTPResponseParser()
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body")
        #expect(try parser.parse(&buffer) == nil)
        buffer.writeString(" and more")
        #expect(try parser.parse(&buffer) == nil)
        #expect(parser.connectionClosed() == Response(status: 200, keepAlive: false))
    }

    @Test("a connection that closes mid-response completes nothing")
    func cutShort() throws {
        var parser = HTTPResponseParser()
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        #expect(try parser.parse(&buffer) == nil)
        #expect(parser.connectionClosed() == nil)
    }

    static let malformed: [(wire: String, error: HTTPResponseParser.ParseError)] = [
        ("garbage\r\n", .badStatusLine),
        ("HTTP/2 200 OK\r\n\r\n", .badStatusLine),
        ("HTTP/1.1 2x0 OK\r\n\r\n", .badStatusLine),
        ("HTTP/1.1  200 OK\r\n\r\n", .badStatusLine),
        // Not an HTTP status: a window holding it would be refused by the master, and lost.
        ("HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n", .badStatusLine),
        ("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", .badHeader),
        ("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", .badContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .badContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", .badContentLength),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .badChunk),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n", .badChunk),
        ("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 70_000) + "\r\n\r\n", .headersTooLarge),
    ]

    @Test("a malformed response is refused with what is wrong with it", arguments: malformed)
    func malformedResponse(_ wire: String, _ expected: HTTPResponseParser.ParseError) {
        var parser = HTTPResponseParser()
        var buffer = ByteBuffer(string: wire)
        #expect(throws: expected) {
            while try parser.parse(&buffer) != nil {}
        }
    }

    @Test("headers that never end are refused before they fill memory")
    func endlessHeaderLine() {
        var parser = HTTPResponseParser()
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nX-Endless: ")
        #expect(throws: HTTPResponseParser.ParseError.headersTooLarge) {
            for _ in 0..<100 {
                buffer.writeString(String(repeating: "a", count: 1_000))
                _ = try parser.parse(&buffer)
            }
        }
    }
}
