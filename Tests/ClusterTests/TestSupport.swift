import Foundation
import Logging
import Store
import Synchronization
import TestKit
import Testing

@testable import Cluster
import Engine
import Protocol

/// Things that arrive from other tasks (commands, console replies, callbacks), taken in order,
/// each wait bounded.
final class Mailbox<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    func put(_ item: Element) {
        items.withLock { $0.append(item) }
    }

    /// Everything not yet taken.
    var pending: [Element] { items.withLock { $0 } }

    /// Takes the oldest item, waiting up to `limit` for one to arrive.
    func next(_ what: String = "a message", within limit: Duration = .seconds(20)) async throws -> Element {
        var found: Element?
        try await eventually(what, within: limit) {
            found = items.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            return found != nil
        }
        return found!
    }
}

/// Libraries take a logger; the tests give them one that says nothing.
let quietLogger = Logger(label: "goloadtest.cluster-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// A run end as the master's `runFinished` callback reported it.
struct FinishedRun: Sendable, Equatable {
    var runId: Int64
    var status: RunStatus
}

/// A valid window: `successes` 200s with distinct latencies, `failures` timeouts.
func testWindow(
    runId: Int64, slave: String, seq: UInt64, successes: UInt64 = 10, failures: UInt64 = 0, isFinal: Bool = false
) -> SummaryWindow {
    // Within the run's time on the master's clock (windows far from it are refused).
    let start = wallClockNanoseconds() - 10_000_000_000 + Int64(seq) * 10_000_000
    var latency = LatencyHistogram()
    for index in 0..<successes {
        latency.record(microseconds: 1_000 + 10 * index)
    }
    return SummaryWindow(
        runId: runId, slave: slave, seq: seq, startedAt: start, endedAt: start + 1_000_000_000,
        requests: successes + failures, successes: successes, failures: failures,
        bytesReceived: 100 * successes, bytesSent: 50 * (successes + failures),
        statusCodes: successes > 0 ? [200: successes] : [:],
        errors: failures > 0 ? ["timeout": failures] : [:],
        latency: latency, isFinal: isFinal)
}

/// Every stored window of a run (or of one slave of it), by slave then seq.
/// The master's own receive time is left out (`receivedAt` nil), so that a stored window
/// compares equal to the one posted; `receivedTimes` gives those.
func storedWindows(_ store: RunStore, run runId: Int64, slave: String? = nil) throws -> [SummaryWindow] {
    var windows: [SummaryWindow] = []
    try store.forEachWindow(ofRun: runId, slave: slave) { window in
        var window = window
        window.receivedAt = nil
        windows.append(window)
    }
    return windows
}

/// When the master received each stored window of a run, by slave then seq.
func receivedTimes(_ store: RunStore, run runId: Int64) throws -> [Int64?] {
    var times: [Int64?] = []
    try store.forEachWindow(ofRun: runId) { times.append($0.receivedAt) }
    return times
}
