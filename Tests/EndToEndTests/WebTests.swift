import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// `master --http`: the live page and its events, every stored run as HTML and as JSON, and
/// Prometheus metrics, through the real binary during a real run.
@Suite("master --http", .serialized)
struct WebTests {
    static func get(_ port: Int, _ path: String) async throws -> (status: Int, body: String, type: String) {
        var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)\(path)")))
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return (http.statusCode, String(decoding: data, as: UTF8.self), http.value(forHTTPHeaderField: "Content-Type") ?? "")
    }

    /// The first `count` events of `/api/live`, read from a plain socket (as a browser's
    /// EventSource does), each within 10 s.
    static func liveEvents(_ port: Int, count: Int) throws -> [[String: Any]] {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(socket >= 0)
        defer { close(socket) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        let request = "GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        _ = request.withCString { send(socket, $0, strlen($0), 0) }
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        var events: [[String: Any]] = []
        while events.count < count {
            let read = recv(socket, &buffer, buffer.count, 0)
            guard read > 0 else { break }
            text += String(decoding: buffer[0..<read], as: UTF8.self)
            // Chunked: each event comes after its chunk's size line.
            events = text.replacingOccurrences(of: "\r", with: "").components(separatedBy: "\n").filter { $0.hasPrefix("data: {") }.compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any]
            }
        }
        #expect(text.hasPrefix("HTTP/1.1 200"), "\(text)")
        #expect(text.lowercased().contains("content-type: text/event-stream"), "\(text)")
        #expect(events.count >= count, "\(text)")
        return events
    }

    /// `name{slave="s1"} 123` → 123.
    static func sample(_ metrics: String, _ prefix: String) -> Double? {
        metrics.split(separator: "\n").first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test("during a run: live events rise, metrics equal what is stored, promtool accepts them, JSON and HTML reports as the CLI's")
    func duringARun() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, port) = try await startMaster(
            [
                "--http", "127.0.0.1:0", "--expect-slaves", "1", "--slave-timeout", "60s", "--db", "runs.db",
                "--url", "http://127.0.0.1:\(targetPort)/", "--duration", "8s", "--batch", "4", "--rate", "300",
            ], in: folder.url)
        defer { master.terminate() }
        let web = try #require(Int(try await master.waitForStderr(#"http on 127\.0\.0\.1:(\d+)"#)))
        let before = try await Self.get(web, "/api/runs/current")
        #expect(before.status == 404)
        let slave = try ChildProcess(["slave", "--master", "127.0.0.1:\(port)", "--name", "s1"], in: folder.url)
        defer { slave.terminate() }

        let events = try Self.liveEvents(web, count: 3)
        let live = events.filter { ($0["runId"] as? Int) == 1 }
        #expect(live.count >= 2, "events: \(events); master: \(master.stderr)")
        let counts = live.compactMap { $0["requests"] as? Int }
        #expect(counts == counts.sorted() && (counts.last ?? 0) > 0, "requests in the events: \(counts)")
        let current = try await Self.get(web, "/api/runs/current")
        #expect(current.status == 200 && current.body.contains("\"runId\":1"))

        // The slave stopped: nothing more arrives; what /metrics counts is what is stored.
        slave.send(SIGSTOP)
        try await Task.sleep(for: .milliseconds(1_500))
        let metrics = try await Self.get(web, "/metrics")
        #expect(metrics.status == 200 && metrics.type.hasPrefix("text/plain"))
        let cli = try await ChildProcess.run(["report", "--run", "1", "--format", "json", "--db", "runs.db"], in: folder.url)
        #expect(cli.status == 0, "\(cli.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])
        let total = try #require(report["total"] as? [String: Any])
        let stored = try #require(total["requests"] as? Int)
        #expect(stored > 0)
        #expect(Self.sample(metrics.body, "goloadtest_requests_total{slave=\"s1\"}") == Double(stored))
        #expect(Self.sample(metrics.body, "goloadtest_responses_total{slave=\"s1\",status=\"200\"}") == Double(stored))
        #expect(Self.sample(metrics.body, "goloadtest_request_duration_seconds_count") == Double(stored))
        #expect(Self.sample(metrics.body, "goloadtest_request_duration_seconds_bucket{le=\"+Inf\"}") == Double(stored))
        #expect(Self.sample(metrics.body, "goloadtest_run_id") == 1)
        #expect(Self.sample(metrics.body, "goloadtest_slaves{state=\"running\"}") == 1)
        try metrics.body.write(toFile: folder.path("metrics.txt"), atomically: true, encoding: .utf8)
        let promtool = try await ChildProcess.runTool("/bin/sh", ["-c", "promtool check metrics < metrics.txt 2>&1"], in: folder.url)
        #expect(promtool.status == 0, "promtool: \(promtool.stdout)")
        #expect(!promtool.stdout.contains("WARNING"), "promtool: \(promtool.stdout)")

        // The same rows, the same JSON as the command line; the HTML report of the run.
        let json = try await Self.get(web, "/api/runs/1")
        #expect(json.status == 200 && json.type.hasPrefix("application/json"))
        #expect(json.body == cli.stdout)
        let html = try await Self.get(web, "/runs/1")
        #expect(html.status == 200 && html.type.hasPrefix("text/html"))
        #expect(html.body.hasPrefix("<!DOCTYPE html>") && html.body.contains("id=\"goloadtest-data\""))
        let runs = try await Self.get(web, "/api/runs")
        #expect(runs.body.contains("\"id\" : 1"))
        let page = try await Self.get(web, "/")
        #expect(page.status == 200 && page.body.contains("href=\"/runs/1\"") && page.body.contains("EventSource(\"/api/live\")"))
        #expect(try await Self.get(web, "/api/runs/99").status == 404)
        #expect(try await Self.get(web, "/runs/nine").status == 400)

        slave.send(SIGCONT)
        #expect(try await master.waitForExit(timeout: .seconds(60)) == 0, "\(master.stderr)")
        #expect(try await slave.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test("--http that cannot be used: a clear error, exit 1, before any run")
    func badAddress() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        for (address, message) in [
            ("nonsense", "--http takes HOST:PORT"), ("127.0.0.1:70000", "--http takes HOST:PORT"),
            (":8089", "with a host"), ("127.0.0.1:\(targetPort)", "cannot listen there"),
        ] {
            let result = try await ChildProcess.run(
                ["master", "--host", "127.0.0.1", "--port", "0", "--http", address, "--db", "runs.db"], in: folder.url,
                timeout: .seconds(30))
            #expect(result.status == 1, "--http \(address)")
            #expect(result.stderr.contains(message), "--http \(address): \(result.stderr)")
        }
    }
}

extension WebTests {
    static func post(_ port: Int, _ path: String, token: String? = nil) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)\(path)")))
        request.httpMethod = "POST"
        request.timeoutInterval = 30
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return (try #require(response as? HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }
}

@Suite("master --http: starting and stopping runs", .serialized)
struct WebControlTests {
    @Test("with a token: refused without it or with another, a run started with it, a second start refused, the run stopped")
    func withToken() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let environment = ["GOLOADTEST_TOKEN": "s3cret"]
        let (master, port) = try await startMaster(
            ["--http", "127.0.0.1:0", "--db", "runs.db", "--url", "http://127.0.0.1:\(targetPort)/", "--duration", "60s", "--rate", "100"],
            in: folder.url, environment: environment)
        defer { master.terminate() }
        let web = try #require(Int(try await master.waitForStderr(#"http on 127\.0\.0\.1:(\d+)"#)))
        let slave = try ChildProcess(["slave", "--master", "127.0.0.1:\(port)", "--name", "s1"], in: folder.url, environment: environment)
        defer { slave.terminate() }
        _ = try await master.waitForStderr("slave s1 connected")

        let without = try await WebTests.post(web, "/api/runs")
        #expect(without.status == 401 && without.body.contains("Authorization: Bearer"), "\(without)")
        #expect(try await WebTests.post(web, "/api/runs", token: "guess").status == 401)
        #expect(try await WebTests.post(web, "/api/runs/current/stop", token: "guess").status == 401)
        #expect(!master.stderr.contains("run 1 started"), "a refused start started a run")

        let started = try await WebTests.post(web, "/api/runs", token: "s3cret")
        #expect(started.status == 201 && started.body == #"{"runId":1,"started":true}"#, "\(started)")
        let again = try await WebTests.post(web, "/api/runs", token: "s3cret")
        #expect(again.status == 409 && again.body.contains("still going"), "\(again)")
        _ = try await master.waitForStderr("run 1 started")
        try await Task.sleep(for: .seconds(1))
        let stopped = try await WebTests.post(web, "/api/runs/current/stop", token: "s3cret")
        #expect(stopped.status == 202 && stopped.body == #"{"runId":1,"stopping":true}"#, "\(stopped)")
        _ = try await master.waitForStderr("run 1 (aborted|completed)")
        let report = try await WebTests.get(web, "/api/runs/1")
        #expect(report.body.contains(#""status" : "aborted""#), "\(report.body.prefix(400))")
        let none = try await WebTests.post(web, "/api/runs/current/stop", token: "s3cret")
        #expect(none.status == 409 && none.body.contains("no run is going"), "\(none)")
    }

    @Test("without a token: this machine may start a run (the address is loopback)")
    func loopbackWithoutToken() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, port) = try await startMaster(
            ["--http", "127.0.0.1:0", "--db", "runs.db", "--url", "http://127.0.0.1:\(targetPort)/", "--tasks", "100"],
            in: folder.url)
        defer { master.terminate() }
        let web = try #require(Int(try await master.waitForStderr(#"http on 127\.0\.0\.1:(\d+)"#)))
        // No slave connected: refused, with the master's reason.
        let empty = try await WebTests.post(web, "/api/runs")
        #expect(empty.status == 409 && empty.body.contains("slave"), "\(empty)")
        let slave = try ChildProcess(["slave", "--master", "127.0.0.1:\(port)", "--name", "s1"], in: folder.url)
        defer { slave.terminate() }
        _ = try await master.waitForStderr("slave s1 connected")
        let started = try await WebTests.post(web, "/api/runs")
        #expect(started.status == 201 && started.body == #"{"runId":1,"started":true}"#, "\(started)")
        _ = try await master.waitForStderr("run 1 completed")
    }
}

@Suite("master --http scraped by a real Prometheus", .serialized)
struct PrometheusScrapeTests {
    @Test("Prometheus (Debian's) scrapes the master every second during a run; its query API returns the stored request total")
    func scraped() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, port) = try await startMaster(
            [
                "--http", "127.0.0.1:0", "--expect-slaves", "1", "--slave-timeout", "60s", "--db", "runs.db",
                "--url", "http://127.0.0.1:\(targetPort)/", "--duration", "6s", "--rate", "200",
            ], in: folder.url)
        defer { master.terminate() }
        let web = try #require(Int(try await master.waitForStderr(#"http on 127\.0\.0\.1:(\d+)"#)))
        let prometheusPort = try freePort()
        try """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: goloadtest
                static_configs:
                  - targets: ["127.0.0.1:\(web)"]
            """.write(toFile: folder.path("prometheus.yml"), atomically: true, encoding: .utf8)
        let prometheus = try ChildProcess(
            [
                "--config.file=prometheus.yml", "--storage.tsdb.path=tsdb", "--web.listen-address=127.0.0.1:\(prometheusPort)",
                "--log.level=warn",
            ], in: folder.url, executable: URL(fileURLWithPath: "/usr/bin/prometheus"))
        defer { prometheus.terminate() }
        let slave = try ChildProcess(["slave", "--master", "127.0.0.1:\(port)", "--name", "s1"], in: folder.url)
        defer { slave.terminate() }
        _ = try await master.waitForStderr("run 1 started")
        try await Task.sleep(for: .seconds(3))
        // Nothing more arrives; a few scrapes later Prometheus holds what is stored.
        slave.send(SIGSTOP)
        try await Task.sleep(for: .seconds(3))
        let cli = try await ChildProcess.run(["report", "--run", "1", "--format", "csv", "--db", "runs.db"], in: folder.url)
        let totalRow = try #require(cli.stdout.components(separatedBy: "\r\n").first { $0.hasPrefix("1,total,") })
        let stored = try #require(Int(totalRow.split(separator: ",", omittingEmptySubsequences: false)[5]))
        #expect(stored > 0)
        var value: Int?
        for _ in 0..<40 where value != stored {
            let query = "http://127.0.0.1:\(prometheusPort)/api/v1/query?query=sum(goloadtest_requests_total)"
            if let (data, _) = try? await URLSession.shared.data(from: try #require(URL(string: query))),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let result = (object["data"] as? [String: Any])?["result"] as? [[String: Any]],
                let sample = result.first?["value"] as? [Any], let text = sample.last as? String
            {
                value = Int(text)
            }
            if value != stored { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(value == stored, "Prometheus says \(String(describing: value)), the database \(stored); prometheus: \(prometheus.stderr.suffix(800))")
        slave.send(SIGCONT)
        #expect(try await master.waitForExit(timeout: .seconds(60)) == 0, "\(master.stderr)")
    }
}
