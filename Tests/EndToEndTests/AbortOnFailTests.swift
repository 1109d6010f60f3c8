import Foundation
import Store
import Testing

/// `--abort-on-fail`: a breach stops the run within about two seconds, not at its end. Timed:
/// runs in the timed pass (a file of its own: a filter also matches the file a test is in).
@Suite("Abort on a failed threshold", .serialized)
struct AbortOnFailTests {
    @Test("a 20 s run against /status/500 with error_rate<1% stops about 2 s in: aborted, the reason stored, exit 99")
    func aborts() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let run = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/status/500", "--duration", "20s", "--rate", "100",
             "--threshold", "error_rate<1%", "--threshold", "rps>=1000", "--abort-on-fail"],
            in: folder.url)
        #expect(run.status == 99, "\(run.stderr)")
        let stored = try RunStore.openReadOnly(path: folder.path("runs.db")).run(1)
        #expect(stored.status == .aborted)
        #expect(stored.endReason == "threshold error_rate<1% failed (error_rate = 100.000 %)", "\(String(describing: stored.endReason))")
        // The first windows come after 1 s; the breach is seen at the next check, a second later
        // at most; stopping takes the slaves' final windows.
        let seconds = Double(try #require(stored.finishedAt) - stored.startedAt) / 1e9
        #expect(seconds < 5, "ran \(seconds) s of 20")
        #expect(run.stdout.contains("ended early: threshold error_rate<1% failed"), "\(run.stdout)")
    }
}
