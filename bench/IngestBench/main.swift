import Foundation
import Logging
import Store

/// Durable window ingest: `writers` concurrent posters (as many slaves posting at once) store
/// windows through the master's `WindowWriter` into a fresh SQLite file for `seconds`, and the
/// windows stored per second are printed for each way of committing.
///
/// With a PostgreSQL URL, the master's way (group commit) is measured into it too.
///
/// Usage: IngestBench [seconds] [writers] [postgres://USER@HOST:PORT/DB]
let arguments = CommandLine.arguments
let seconds = arguments.count > 1 ? Double(arguments[1]) ?? 5 : 5
let writers = arguments.count > 2 ? Int(arguments[2]) ?? 200 : 200
let postgres = arguments.count > 3 ? arguments[3] : nil

/// A realistic window: ~200 distinct latencies, as a slave at a few thousand requests/s makes.
func window(runId: Int64, slave: String, seq: UInt64) -> SummaryWindow {
    var latency = LatencyHistogram()
    for index in 0..<2_000 { latency.record(microseconds: 500 + UInt64(index % 200) * 37) }
    let start = Int64(Date().timeIntervalSince1970 * 1e9)
    return SummaryWindow(
        runId: runId, slave: slave, seq: seq, startedAt: start, endedAt: start + 1_000_000_000,
        requests: 2_000, successes: 2_000, bytesReceived: 2_000_000, bytesSent: 200_000,
        statusCodes: [200: 2_000], latency: latency)
}

func measure(_ label: String, durability: RunStore.Durability, batch: Int) async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ingest-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let store = try RunStore.open(path: folder.appendingPathComponent("bench.db").path, durability: durability)
    try await measure(label, store: store, batch: batch)
    store.close()
}

/// Posts windows through a `WindowWriter` into `store` for `seconds` from `writers` posters.
func measure(_ label: String, store: any RunRecorder, batch: Int) async throws {
    let plan = SlavePlan(tasks: 1, batch: 1, url: "http://127.0.0.1:9/")
    let names = (0..<writers).map { "slave\($0)" }
    let runId = try await store.createRun(
        master: "bench", slaves: names.map { ($0, plan) }, startedAt: Int64(Date().timeIntervalSince1970 * 1e9), plan: nil,
        thresholds: [])
    let writer = WindowWriter(store: store, maximumBatch: batch)
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    let started = ContinuousClock.now
    let stored = try await withThrowingTaskGroup(of: Int.self) { group in
        for name in names {
            group.addTask {
                var seq: UInt64 = 0
                let template = window(runId: runId, slave: name, seq: 0)
                while ContinuousClock.now < deadline {
                    var next = template
                    next.seq = seq
                    guard case .success(true) = await writer.record(next) else { throw CancellationError() }
                    seq += 1
                }
                return Int(seq)
            }
        }
        return try await group.reduce(0, +)
    }
    let elapsed = ContinuousClock.now - started
    let perSecond = Double(stored) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    print("\(label): \(stored) windows in \(elapsed), \(Int(perSecond)) windows/s")
}

try await measure("synced, group commit (the master)", durability: .synced, batch: 512)
try await measure("synced, one transaction a window", durability: .synced, batch: 1)
try await measure("not synced (NORMAL), one transaction a window (before)", durability: .crashSafe, batch: 1)
if let postgres {
    let history = try await PostgresHistory.connect(url: postgres, migrate: true, logger: .init(label: "bench"))
    try await measure("PostgreSQL, group commit (the master)", store: history, batch: 512)
    await history.shutdown()
}
