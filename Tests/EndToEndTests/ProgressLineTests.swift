import Foundation
import Testing

/// The progress of a run on stderr, through the real binary: a bar redrawn on a terminal (a
/// pseudo-terminal made by `script`), plain lines when piped, none with `--quiet`.
@Suite("The progress line", .serialized)
struct ProgressLineTests {
    @Test("on a terminal: one line redrawn every second, a bar that reaches 100 % and ends the line")
    func terminal() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        // 2,000 requests of 5 ms, 4 at a time: about 2.5 s, so the bar is drawn more than once.
        let command = [
            ChildProcess.binary.path, "run", "--url", "http://127.0.0.1:\(port)/delay/5", "--tasks", "2000", "--batch", "4",
            "--db", "runs.db", "--log-level", "warning",
        ].joined(separator: " ")
        let result = try await ChildProcess.runTool(
            "/usr/bin/script", ["-q", "-e", "-c", command, folder.path("typescript")], in: folder.url, timeout: .seconds(90))
        #expect(result.status == 0, "\(result.stdout)")
        let screen = try String(contentsOfFile: folder.path("typescript"), encoding: .utf8)
        let redraws = screen.components(separatedBy: "\r\u{1B}[2Krun 1 [").count - 1
        #expect(redraws >= 2, "\(screen.prefix(400))")
        #expect(screen.contains("[####################] 100%"), "\(screen.prefix(2000))")
        #expect(screen.contains("2000/2000 requests"))
        #expect(screen.contains("completed\r\n"), "the last drawing ends the line, with how the run ended")
        // The report follows on lines of its own.
        #expect(screen.contains("\nrun 1 · master local · completed"))
    }

    @Test("piped: a plain line at the start, every 10 s and at the end, no redrawing; none with --quiet")
    func piped() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let run = try await ChildProcess.run(
            ["run", "--url", "http://127.0.0.1:\(port)/", "--rate", "50", "--duration", "14s", "--batch", "2", "--db", "runs.db",
             "--log-level", "warning"],
            in: folder.url, timeout: .seconds(90))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("\r") && !run.stderr.contains("\u{1B}"), "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("run 1: ") }
        // At the start (the first second), after 10 s more, and at the end (14 s: the line of 11 s
        // comes well before it, however late the run's first second on a loaded machine).
        #expect((3...4).contains(lines.count), "\(lines)")
        #expect(lines.allSatisfy { $0.contains(" s / 14 s, ") }, "\(lines)")
        let percents = lines.compactMap { Int($0.dropFirst("run 1: ".count).prefix { $0.isNumber }) }
        #expect(percents.count == lines.count && percents == percents.sorted(), "\(lines)")
        #expect(lines.last?.hasPrefix("run 1: 100%") == true && lines.last?.hasSuffix("completed") == true, "\(lines)")
        #expect(lines.dropFirst().first?.contains(" req/s, ") == true)

        let quiet = try await ChildProcess.run(
            ["run", "--url", "http://127.0.0.1:\(port)/", "--tasks", "100", "--db", "runs.db", "--quiet", "--log-level", "warning"],
            in: folder.url)
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(!quiet.stderr.contains("run 2:"), "\(quiet.stderr)")
    }
}
