import Synchronization

/// Group commit for windows: every window is on disk before its caller hears back, and windows
/// that arrive while a transaction is being written go together into the next one, so the
/// cost of a sync to disk is shared by all of them.
///
/// There is no writer task: the first caller to find no write going writes the queue itself
/// (its own windows among it); when it is done it hands the next batch to the longest-waiting
/// caller, and returns.
///
/// The queue is bounded: windows that would take it past `maximumQueued` windows or
/// `maximumQueuedBytes` are not taken (`StoreError.busy`), so memory stays flat however many
/// slaves post at once; their senders keep them and try again.
public final class WindowWriter: Sendable {
    public typealias Outcome = Result<Bool, StoreError>
    public typealias Entry = (window: SummaryWindow, reportedTotal: UInt64?)

    private enum Wake: Sendable {
        case done([Outcome])
        case write
    }

    private struct Waiting: Sendable {
        var windows: [Entry]
        var bytes: Int
        var continuation: CheckedContinuation<Wake, Never>?
    }

    private struct State: Sendable {
        var queue: [Waiting] = []
        var queuedWindows = 0
        var queuedBytes = 0
        var writing = false
    }

    let store: any RunRecorder
    /// At most this many windows in one transaction (a caller's windows are never split).
    let maximumBatch: Int
    /// At most this many windows wait for a transaction.
    public let maximumQueued: Int
    /// At most this many bytes of windows wait (their histograms and names, roughly what
    /// they hold in memory).
    public let maximumQueuedBytes: Int
    private let state = Mutex(State())

    public init(store: any RunRecorder, maximumBatch: Int = 512, maximumQueued: Int = 8_192, maximumQueuedBytes: Int = 64 << 20) {
        self.store = store
        self.maximumBatch = max(1, maximumBatch)
        self.maximumQueued = max(1, maximumQueued)
        self.maximumQueuedBytes = max(1, maximumQueuedBytes)
    }

    /// Windows waiting for a transaction now.
    public var queuedWindows: Int { state.withLock { $0.queuedWindows } }

    /// A transaction is being written (its windows are no longer queued).
    var isWriting: Bool { state.withLock { $0.writing } }

    /// Stores `window`: true if newly stored, false if it had been stored before.
    public func record(_ window: SummaryWindow, reportedTotal: UInt64? = nil) async -> Outcome {
        await record([(window, reportedTotal)])[0]
    }

    /// Stores `windows` in order, in one transaction, with an outcome for each. All are
    /// refused with `.busy` if the queue has no room for them (an empty queue always takes
    /// them, so a large batch cannot be refused for ever).
    public func record(_ windows: [Entry]) async -> [Outcome] {
        guard !windows.isEmpty else { return [] }
        let bytes = windows.reduce(0) { $0 + $1.window.approximateBytes }
        var refusal: StoreError?
        let wake = await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
            let lead = state.withLock { state -> Bool? in
                if state.queuedWindows > 0,
                    state.queuedWindows + windows.count > maximumQueued || state.queuedBytes + bytes > maximumQueuedBytes
                {
                    refusal = .busy(queued: state.queuedWindows)
                    return nil
                }
                state.queue.append(Waiting(windows: windows, bytes: bytes, continuation: continuation))
                state.queuedWindows += windows.count
                state.queuedBytes += bytes
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            switch lead {
            case nil: continuation.resume(returning: .done([]))
            case true?: continuation.resume(returning: .write)
            case false?: break
            }
        }
        if let refusal { return Array(repeating: .failure(refusal), count: windows.count) }
        switch wake {
        case .done(let outcomes):
            return outcomes
        case .write:
            return await writeBatch()
        }
    }

    /// Writes one batch (which starts with this caller's windows), answers its callers, and
    /// passes the pen to the next waiting caller if any. Returns this caller's outcomes.
    private func writeBatch() async -> [Outcome] {
        let batch = state.withLock { state -> [Waiting] in
            var count = 0
            var windows = 0
            var bytes = 0
            for waiting in state.queue {
                guard count == 0 || windows + waiting.windows.count <= maximumBatch else { break }
                count += 1
                windows += waiting.windows.count
                bytes += waiting.bytes
            }
            defer {
                state.queue.removeFirst(count)
                state.queuedWindows -= windows
                state.queuedBytes -= bytes
            }
            return Array(state.queue.prefix(count))
        }
        let entries = batch.flatMap(\.windows)
        var outcomes: [Outcome]
        do {
            outcomes = try await store.recordWindows(entries)
        } catch {
            outcomes = Array(repeating: .failure(error), count: entries.count)
        }
        // The first of the batch is this caller (a leader always finds its own windows at the
        // head of the queue: it was woken because it was first).
        var mine: [Outcome] = []
        var offset = 0
        for (index, waiting) in batch.enumerated() {
            let part = Array(outcomes[offset..<offset + waiting.windows.count])
            offset += waiting.windows.count
            if index == 0 {
                mine = part
            } else {
                waiting.continuation?.resume(returning: .done(part))
            }
        }
        let next = state.withLock { state -> CheckedContinuation<Wake, Never>? in
            guard let first = state.queue.first else {
                state.writing = false
                return nil
            }
            state.queue[0].continuation = nil
            return first.continuation
        }
        next?.resume(returning: .write)
        return mine
    }
}

extension SummaryWindow {
    /// About what the window holds in memory, in bytes: its histograms, names and counts.
    public var approximateBytes: Int {
        var bytes = 256 + slave.utf8.count + encodedLatency.bytes.count
        bytes += encodedUncorrectedLatency?.bytes.count ?? 0
        bytes += encodedFailureLatency?.bytes.count ?? 0
        bytes += encodedHandshakeLatency?.bytes.count ?? 0
        bytes += statusCodes.count * 32 + errors.reduce(0) { $0 + $1.key.utf8.count + 32 }
        for part in byName {
            bytes += 128 + part.name.utf8.count + part.latency.bytes.count + part.statusCodes.count * 32
                + part.errors.reduce(0) { $0 + $1.key.utf8.count + 32 }
        }
        return bytes
    }
}
