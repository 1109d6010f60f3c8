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
        // Kept for a person to look at (not committed): .build/test-screenshots/.
        let shots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/test-screenshots")
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        _ = try await ChildProcess.runTool(
            chromium, flags + ["--screenshot=" + shots.appendingPathComponent(screenshot).path, url], in: folder.url)
        return (dump.stdout, dump.stderr.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") })
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
