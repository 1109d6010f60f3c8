import Foundation
import Testing

/// The HTML report in a real browser: Debian's chromium, headless, loads the page from disk,
/// runs its script, and hands back the DOM it drew and its console.
@Suite("HTML report in chromium", .serialized)
struct BrowserTests {
    static let chromium = "/usr/bin/chromium"

    /// The DOM after the page's script ran, and the console lines chromium logged.
    static func render(_ file: String, in folder: borrowing TemporaryDirectory, screenshot: String) async throws -> (dom: String, console: [String]) {
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--window-size=1200,1800"]
        let url = "file://" + folder.path(file)
        let dump = try await ChildProcess.runTool(chromium, flags + ["--virtual-time-budget=3000", "--dump-dom", url], in: folder.url)
        #expect(dump.status == 0, "\(dump.stderr.suffix(600))")
        let shots = try screenshotFolder()
        _ = try await ChildProcess.runTool(
            chromium, flags + ["--screenshot=" + shots.appendingPathComponent(screenshot).path, url], in: folder.url)
        return (dump.stdout, dump.stderr.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") })
    }

    /// Where screenshots are kept for a person to look at (not committed): .build/test-screenshots/.
    static func screenshotFolder() throws -> URL {
        let shots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/test-screenshots")
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        return shots
    }

    /// `data-series="NAME" data-points="N"` → N, for every series drawn.
    static func series(_ dom: String, chart: String) throws -> [String: Int] {
        let start = try #require(dom.range(of: "data-chart=\"\(chart)\""), "no chart \(chart)")
        let end = dom.range(of: "</svg>", range: start.upperBound..<dom.endIndex)?.lowerBound ?? dom.endIndex
        var found: [String: Int] = [:]
        for match in dom[start.upperBound..<end].matches(of: /data-series="([^"]*)" data-points="(\d+)"/) {
            found[String(match.output.1)] = Int(match.output.2)
        }
        return found
    }

    @Test("a run and a comparison: no console message, each chart with the series and points its rows imply")
    func report() async throws {
        let folder = try TemporaryDirectory()
        try await ReportCommandTests.buildDatabase(at: folder.path("runs.db"))
        for arguments in [["--run", "1"], ["--run", "2", "--compare", "1"]] {
            let result = try await ChildProcess.run(
                ["report"] + arguments + ["--format", "html", "--output", "page.html", "--db", "runs.db"], in: folder.url)
            #expect(result.status == 0, "\(result.stderr)")
            let name = arguments.count == 2 ? "run1" : "run2-vs-run1"
            let (dom, console) = try await Self.render("page.html", in: folder, screenshot: "report-\(name).png")
            #expect(console.isEmpty, "\(console)")
            // Each run: slaves a and b, three one-second windows each, all in the same seconds.
            if arguments.count == 2 {
                #expect(try Self.series(dom, chart: "rps") == ["a": 3, "b": 3, "run 1 total": 3])
                #expect(try Self.series(dom, chart: "latency") == ["run 1 p50": 3, "run 1 p90": 3, "run 1 p99": 3, "run 1 max": 3])
                #expect(try Self.series(dom, chart: "slave-latency") == ["a": 3, "b": 3])
                // Run 1 had a 503 in its last second.
                #expect(try Self.series(dom, chart: "status") == ["200": 3, "503": 3, "failures": 3])
            } else {
                #expect(try Self.series(dom, chart: "rps") == ["a": 3, "b": 3, "run 2 total": 3, "run 1 total": 3])
                #expect(try Self.series(dom, chart: "latency").count == 8)
                #expect(try Self.series(dom, chart: "status") == ["200": 3, "failures": 3])
            }
        }
    }
}

/// The master's live page in a real browser during a real run: Debian's chromium driven by
/// `Tests/browser/live_page.py` (selenium and chromium-driver from Debian).
@Suite("The live page in chromium", .serialized)
struct LivePageBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/live_page.py").path

    @Test("refuses start and stop without the token, starts with it; counts rise to the stored total; charts per slave and status")
    func liveRun() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        // Three of four requests answered 200, one 503: two status codes, and failures.
        try """
            # name: ok
            # weight: 3
            GET http://127.0.0.1:\(targetPort)/

            # name: unavailable
            GET http://127.0.0.1:\(targetPort)/status/503
            """.write(toFile: folder.path("targets.txt"), atomically: true, encoding: .utf8)
        let environment = ["GOLOADTEST_TOKEN": "s3cret"]
        let (master, port) = try await startMaster(
            ["--http", "127.0.0.1:0", "--db", "runs.db", "--targets", "targets.txt", "--duration", "6s", "--rate", "100"],
            in: folder.url, environment: environment)
        defer { master.terminate() }
        let web = try #require(Int(try await master.waitForStderr(#"http on 127\.0\.0\.1:(\d+)"#)))
        var slaves: [ChildProcess] = []
        defer { slaves.forEach { $0.terminate() } }
        for name in ["s1", "s2"] {
            slaves.append(try ChildProcess(["slave", "--master", "127.0.0.1:\(port)", "--name", name], in: folder.url, environment: environment))
            _ = try await master.waitForStderr("slave \(name) connected")
        }

        let shot = try BrowserTests.screenshotFolder().appendingPathComponent("live-page.png").path
        let driven = try await ChildProcess.runTool(
            "/usr/bin/python3", [Self.script, "http://127.0.0.1:\(web)/", "s3cret", shot], in: folder.url, timeout: .seconds(150))
        try #require(driven.status == 0, "\(driven.stderr.suffix(1_500))")
        let page = try #require(try JSONSerialization.jsonObject(with: Data(driven.stdout.utf8)) as? [String: Any], "\(driven.stdout)")

        // Without the token nothing starts or stops; with it, run 1 starts from the page.
        for key in ["refusedStart", "refusedStop", "refusedStopDuring"] {
            #expect((page[key] as? String)?.contains("Authorization: Bearer") == true, "\(key): \(String(describing: page[key]))")
        }
        #expect(page["titleAfterRefusals"] as? String == "No run since this master started")
        #expect(page["started"] as? String == "run 1 started")
        #expect((page["title"] as? String)?.hasPrefix("Run 1 — completed") == true, "\(String(describing: page["title"]))")

        // The count shown rose during the run and ended at what is stored.
        let report = try await ChildProcess.run(["report", "--run", "1", "--format", "json", "--db", "runs.db"], in: folder.url)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any], "\(report.stderr)")
        let stored = try #require((object["total"] as? [String: Any])?["requests"] as? Int)
        let counts = try #require(page["counts"] as? [Int])
        #expect(counts.count >= 3 && counts == counts.sorted() && Set(counts).count == counts.count, "\(counts)")
        #expect(stored > 0 && page["final"] as? Int == stored && counts.last == stored, "page \(counts), stored \(stored)")

        // Each chart: the totals and each slave (or status), every series with one point per event.
        let charts = try #require(page["charts"] as? [String: [String: Int]])
        let expected: [String: Set<String>] = [
            "live-rps": ["total", "s1", "s2"], "live-latency": ["p50", "p99", "s1", "s2"], "live-status": ["200", "503", "failures"],
        ]
        for (chart, names) in expected {
            let series = try #require(charts[chart], "no chart \(chart): \(charts)")
            #expect(Set(series.keys) == names, "\(chart): \(series)")
            let points = Set(series.values)
            #expect(points.count == 1 && (points.first ?? 0) >= 3, "\(chart): \(series)")
        }
        // The slaves' table: each finished, with its stored requests.
        let rows = try #require(page["slaves"] as? [String: [String]])
        let bySlave = try #require(object["slaves"] as? [[String: Any]])
        for slave in bySlave {
            let name = try #require(slave["slave"] as? String)
            let row = try #require(rows[name], "no row for \(name): \(rows)")
            #expect(row.count == 7 && row[1] == "finished" && Int(row[2]) == slave["requests"] as? Int, "\(name): \(row) vs \(slave)")
        }
        #expect(rows.count == 2)
        // The list of stored runs, made before the run, shows it once it ended.
        let runs = try #require(page["runs"] as? [[String]])
        #expect(runs.count == 1 && runs.first?.count == 9, "\(runs)")
        if let run = runs.first, run.count == 9 {
            #expect(run[0] == "1" && run[2] == "completed" && run[3] == "2" && run[4] == String(stored), "\(run)")
        }
        let codes = try #require(page["statusCodes"] as? String)
        #expect(codes.contains("200: ") && codes.contains("503: ") && codes.contains("status failures: "), "\(codes)")
        #expect((page["console"] as? [Any])?.isEmpty == true, "console: \(String(describing: page["console"]))")
        // The only failed loads are the three refusals.
        let failed = try #require(page["network"] as? [String])
        #expect(failed.count == 3 && failed.allSatisfy { $0.contains("status of 401") }, "\(failed)")
    }
}
