import NIOCore
import Store
import Testing

@testable import Engine

@Suite("Targets files and request mixes")
struct TargetsFileTests {
    static let bodies: [String: [UInt8]] = ["login.json": Array(#"{"user":"a"}"#.utf8), "empty.bin": []]

    static func parse(_ text: String) throws(EngineError) -> [PlannedRequest] {
        try TargetsFile.parse(text, file: "t.txt") { (path: String) throws(EngineError) -> [UInt8] in
            guard let body = bodies[path] else { throw EngineError(.invalidURL, "no file \(path)") }
            return body
        }
    }

    @Test("vegeta's format with names, weights, headers, bodies, comments and CRLF line ends")
    func parses() throws {
        let text = """
            # a comment, then a named and weighted request
            # name: login
            # weight: 3
            POST http://127.0.0.1:8080/login
            Content-Type: application/json
            X-Trace:  a:b
            @login.json

            GET http://127.0.0.1:8080/items?page=2
            # weight: 2
            # name:   the  list  \r
            GET  http://127.0.0.1:8080/list\r
            GET http://127.0.0.1:8080/
            """
        let requests = try Self.parse(text)
        #expect(
            requests == [
                PlannedRequest(
                    name: "login", weight: 3, method: "POST", url: "http://127.0.0.1:8080/login",
                    headers: ["Content-Type: application/json", "X-Trace:  a:b"], body: Array(#"{"user":"a"}"#.utf8)),
                // Default name: method and path, without the query.
                PlannedRequest(name: "GET /items", weight: 1, method: "GET", url: "http://127.0.0.1:8080/items?page=2"),
                PlannedRequest(name: "the  list", weight: 2, method: "GET", url: "http://127.0.0.1:8080/list"),
                // A request line right after another starts a new request.
                PlannedRequest(name: "GET /", weight: 1, method: "GET", url: "http://127.0.0.1:8080/"),
            ])
    }

    @Test(
        "bad files are refused, naming the line and what to write",
        arguments: [
            ("hello\n", "t.txt:1:", "is not a request line"),
            ("\n\n   \n# only a comment\n", "t.txt holds no request", "GET http://"),
            ("GET http://127.0.0.1/\nnot a header\n", "t.txt:2:", "neither a header"),
            ("GET http://127.0.0.1/\n@nope.json\n", "t.txt:2:", "no file nope.json"),
            ("GET http://127.0.0.1/\n@\n", "t.txt:2:", "'@' needs a file name"),
            ("GET http://127.0.0.1/\n@login.json\n@login.json\n", "t.txt:3:", "a second body"),
            ("GET http://127.0.0.1/\n@login.json\nX-A: 1\n", "t.txt:3:", "follows the body"),
            ("# weight: 0\nGET http://127.0.0.1/\n", "t.txt:1:", "from 1 to 1000"),
            ("# weight: 1001\nGET http://127.0.0.1/\n", "t.txt:1:", "from 1 to 1000"),
            ("# weight: two\nGET http://127.0.0.1/\n", "t.txt:1:", "from 1 to 1000"),
            ("# name: a\n# name: b\nGET http://127.0.0.1/\n", "t.txt:2:", "a second '# name:'"),
            ("# name: \nGET http://127.0.0.1/\n", "t.txt:1:", "request name is empty"),
            ("# name: \u{1B}[31mred\nGET http://127.0.0.1/\n", "t.txt:1:", "control characters"),
            ("# name: \(String(repeating: "n", count: 201))\nGET http://127.0.0.1/\n", "t.txt:1:", "keep it to 200"),
            ("GET http://127.0.0.1/\n# name: late\n", "t.txt:2:", "no request after it"),
            ("GET http://127.0.0.1/\n# name: next\nX-A: 1\n", "t.txt:3:", "is not a request line"),
            ("GET http://127.0.0.1/\n\n# weight: 2\n", "t.txt:3:", "no request after it"),
            ("GET http://127.0.0.1:80/a\n\nGET https://127.0.0.1/b\n", "t.txt:3", "another scheme, host or port"),
            ("GET http://127.0.0.1/a\n\nGET http://127.0.0.2/b\n", "t.txt:3", "another scheme, host or port"),
            ("GET http://127.0.0.1:99999/\n", "t.txt:1:", "not 1...65535"),
            ("G3T http://127.0.0.1/\n", "t.txt:1:", "is not a request line"),
            ("GET http://127.0.0.1/\nBad Header\n", "t.txt:2:", "neither a header"),
            ("GET http://127.0.0.1/\n: no name\n", "t.txt:2:", "neither a header"),
            ("GET http://127.0.0.1/\nBad Name: x\n", "t.txt:2:", "not a token"),
            ("GET http://127.0.0.1/ HTTP/1.1\n", "t.txt:1:", "nothing after the URL"),
            ("GET http://127.0.0.1/\nGET http://127.0.0.1/b HTTP/1.1\n", "t.txt:2:", "nothing after the URL"),
        ])
    func refused(text: String, place: String, why: String) {
        do {
            let requests = try Self.parse(text)
            Issue.record("accepted: \(requests)")
        } catch {
            #expect(error.message.hasPrefix(place), "\(error.message)")
            #expect(error.message.contains(why), "\(error.message)")
        }
    }

    @Test("more names than a plan takes, and weights beyond one cycle, are refused")
    func limits() {
        let many = (0...PlannedRequest.maximumNames).map { "# name: n\($0)\nGET http://127.0.0.1/\($0)\n" }.joined(separator: "\n")
        #expect(throws: EngineError.self) { try Self.parse(many) }
        do {
            _ = try Self.parse(many)
        } catch {
            #expect(error.message.contains("more than 64 request names"), "\(error.message)")
        }
        // 101 requests of weight 1000: 101,000 in a cycle.
        let heavy = (0...100).map { "# name: all\n# weight: 1000\nGET http://127.0.0.1/\($0)\n" }.joined(separator: "\n")
        do {
            _ = try Self.parse(heavy)
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains("add up to 101000"), "\(error.message)")
        }
    }

    @Test("the mix goes by weight in a fixed, interleaved order, and a name shared by requests is one name")
    func order() throws {
        let requests = [
            PlannedRequest(name: "a", weight: 1, url: "http://127.0.0.1/a"),
            PlannedRequest(name: "b", weight: 2, url: "http://127.0.0.1/b"),
            PlannedRequest(name: "c", weight: 1, url: "http://127.0.0.1/c"),
            PlannedRequest(name: "b", weight: 4, url: "http://127.0.0.1/b2"),
        ]
        let mix = try RequestMix(requests, headers: ["X-Run: 7", "x-b: shared"])
        #expect(mix.names == ["a", "b", "c"])
        // Over any 8 consecutive requests (one cycle): a once, b twice, c once, b2 four times.
        let sequence = (0..<800).map { mix.targets[mix.target(for: UInt64($0))].requestTarget }
        for start in stride(from: 0, to: 800, by: 8) {
            let cycle = sequence[start..<start + 8]
            #expect(cycle.filter { $0 == "/a" }.count == 1)
            #expect(cycle.filter { $0 == "/b" }.count == 2)
            #expect(cycle.filter { $0 == "/c" }.count == 1)
            #expect(cycle.filter { $0 == "/b2" }.count == 4)
        }
        // Interleaved: b2 never comes more than twice in a row.
        #expect(!sequence.indices.dropLast(2).contains { sequence[$0] == "/b2" && sequence[$0 + 1] == "/b2" && sequence[$0 + 2] == "/b2" })
        // The shared headers go on every request.
        #expect(mix.targets.allSatisfy { String(buffer: $0.request).contains("X-Run: 7\r\n") })
    }

    @Test("the slaves of a run each take every n-th entry of the order: together, the order once")
    func parts() throws {
        let requests = (0..<5).map { PlannedRequest(name: "r\($0)", weight: UInt32($0 + 1), url: "http://127.0.0.1/\($0)") }
        let mix = try RequestMix(requests)
        let whole = (0..<1_000).map { mix.target(for: UInt64($0)) }
        for slaves in [1, 2, 3, 7] {
            var together = Array(repeating: -1, count: 1_000)
            for slave in 0..<slaves {
                let part = mix.part(offset: UInt64(slave), of: UInt64(slaves))
                for n in 0..<(1_000 - slave + slaves - 1) / slaves { together[n * slaves + slave] = part.target(for: UInt64(n)) }
            }
            #expect(together == whole, "\(slaves) slaves")
        }
        // Numbers far along do not overflow.
        _ = mix.part(offset: 6, of: 7).target(for: .max)
    }

    @Test("a request's own header wins over a shared one of the same name")
    func headerOverride() throws {
        let mix = try RequestMix(
            [PlannedRequest(name: "a", url: "http://127.0.0.1/", headers: ["Authorization: Bearer own"])],
            headers: ["authorization: Bearer shared", "X-Other: 1"])
        let request = String(buffer: mix.targets[0].request)
        #expect(request.contains("Authorization: Bearer own\r\n"))
        #expect(!request.contains("shared"))
        #expect(request.contains("X-Other: 1\r\n"))
    }
}
