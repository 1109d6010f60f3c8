import Foundation
import Report
import Store
import Synchronization
import Testing

/// A report taken while a master writes to the same file (WAL): each report reads one snapshot.
@Suite("Report while a master writes")
struct ConcurrentReportTests {
    static let windowCount = 300
    static let slaves = ["s0", "s1", "s2"]

    /// Window i goes to slave i % 3 with seq i / 3, covers second i / 3, and holds i % 7 + 1
    /// requests at 1000 µs, of which 1 fails when i % 5 == 0. Every window adds at least one
    /// request, so the run's request count tells how many windows a reader saw.
    static func window(_ runId: Int64, _ i: Int) -> SummaryWindow {
        Fixture.window(
            runId, slaves[i % 3], seq: UInt64(i / 3), from: Int64(i / 3) * Fixture.second,
            to: Int64(i / 3 + 1) * Fixture.second, latencies: [(1_000, UInt64(i % 7 + 1))],
            failures: i % 5 == 0 ? 1 : 0,
            isFinal: i >= windowCount - 3)
    }

    /// Requests and failures of the first `n` windows, per slave.
    static func expected(first n: Int) -> [String: (requests: UInt64, failures: UInt64, windows: Int)] {
        var result: [String: (requests: UInt64, failures: UInt64, windows: Int)] = [:]
        for slave in slaves { result[slave] = (0, 0, 0) }
        for i in 0..<n {
            result[slaves[i % 3]]!.requests += UInt64(i % 7 + 1)
            result[slaves[i % 3]]!.failures += i % 5 == 0 ? 1 : 0
            result[slaves[i % 3]]!.windows += 1
        }
        return result
    }

    final class Progress: Sendable {
        let state = Mutex((reports: 0, writerDone: false))
    }

    @Test("reports taken while 300 windows are written complete, are consistent and never go back")
    func reportWhileWriting() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("report-wal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("runs.db").path

        let writer = try RunStore.open(path: path)
        let runId = try await writer.createRun(
            master: "m", slaves: Self.slaves.map { ($0, Fixture.plan) }, startedAt: Fixture.t0)
        let reader = try RunStore.openReadOnly(path: path)
        let progress = Progress()

        var reports = 0
        var partial = 0
        var previous = -1
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for i in 0..<Self.windowCount {
                    try await writer.recordWindow(Self.window(runId, i))
                    // Every 50 windows, let a reader finish a report before going on, so that
                    // reports see the run half-written however fast this machine writes.
                    if i % 50 == 49 {
                        let seen = progress.state.withLock { $0.reports }
                        let deadline = ContinuousClock.now + .seconds(10)
                        while progress.state.withLock({ $0.reports }) == seen, ContinuousClock.now < deadline {
                            try await Task.sleep(for: .milliseconds(1))
                        }
                    }
                }
                progress.state.withLock { $0.writerDone = true }
            }
            while true {
                let writerDone = progress.state.withLock { $0.writerDone }
                // A fresh read-only store now and then, as `goloadtest report` opens one.
                let store = reports % 10 == 0 ? try RunStore.openReadOnly(path: path) : reader
                let report = try RunReport(store: store, runId: runId)
                let seen = report.total.windows
                let expected = Self.expected(first: seen)
                #expect(report.total.requests == report.slaves.map(\.requests).reduce(0, +))
                #expect(report.total.requests == expected.values.map(\.requests).reduce(0, +), "after \(seen) windows")
                #expect(report.total.failures == expected.values.map(\.failures).reduce(0, +), "after \(seen) windows")
                #expect(report.total.latency.count == report.total.requests)
                for row in report.slaves {
                    #expect(row.requests == expected[row.name]?.requests, "\(row.name) after \(seen) windows")
                    #expect(row.windows == expected[row.name]?.windows, "\(row.name) after \(seen) windows")
                }
                #expect(seen >= previous, "a later report saw fewer windows: \(seen) < \(previous)")
                previous = seen
                if seen > 0 && seen < Self.windowCount { partial += 1 }

                // A timeline from its own snapshot adds up to some prefix of the windows too.
                let timeline = try Timeline(store: store, runId: runId, every: .seconds(10))
                let timelineRequests = timeline.buckets.map(\.requests).reduce(0, +)
                let prefix = (0...Self.windowCount).first {
                    Self.expected(first: $0).values.map(\.requests).reduce(0, +) == timelineRequests
                }
                #expect(prefix != nil, "the timeline's \(timelineRequests) requests are no prefix of the windows")
                if let prefix {
                    #expect(
                        timeline.buckets.map(\.failures).reduce(0, +)
                            == Self.expected(first: prefix).values.map(\.failures).reduce(0, +))
                    #expect(prefix >= seen)
                }

                reports += 1
                progress.state.withLock { $0.reports += 1 }
                if writerDone { break }
                await Task.yield()
            }
            try await group.waitForAll()
        }
        #expect(previous == Self.windowCount)
        // The report that lets the writer past its pause after 100, 150, 200 or 250 windows began
        // after the one that ended the previous pause, so it saw 50 ... 250 windows.
        #expect(partial >= 4, "only \(partial) of \(reports) reports saw the run half-written")
        let final = try RunReport(store: try RunStore.openReadOnly(path: path), runId: runId)
        #expect(final.total.requests == Self.expected(first: Self.windowCount).values.map(\.requests).reduce(0, +))
        #expect(final.slaves.map(\.status) == [.finished, .finished, .finished])
    }
}
