import Synchronization

/// Group commit for windows: every window is on disk before its caller hears back, and windows
/// that arrive while a transaction is being written go together into the next one, so the
/// cost of a sync to disk is shared by all of them.
///
/// There is no writer task: the first caller to find no write going writes the queue itself
/// (its own window among it); when it is done it hands the next batch to the longest-waiting
/// caller, and returns.
public final class WindowWriter: Sendable {
    public typealias Outcome = Result<Bool, StoreError>

    private enum Wake: Sendable {
        case done(Outcome)
        case write
    }

    private struct Waiting: Sendable {
        var window: SummaryWindow
        var reportedTotal: UInt64?
        var continuation: CheckedContinuation<Wake, Never>?
    }

    private struct State: Sendable {
        var queue: [Waiting] = []
        var writing = false
    }

    let store: RunStore
    /// At most this many windows in one transaction.
    let maximumBatch: Int
    private let state = Mutex(State())

    public init(store: RunStore, maximumBatch: Int = 512) {
        self.store = store
        self.maximumBatch = max(1, maximumBatch)
    }

    /// Stores `window`: true if newly stored, false if it had been stored before.
    public func record(_ window: SummaryWindow, reportedTotal: UInt64? = nil) async -> Outcome {
        let wake = await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
            let lead = state.withLock { state -> Bool in
                state.queue.append(Waiting(window: window, reportedTotal: reportedTotal, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if lead { continuation.resume(returning: .write) }
        }
        switch wake {
        case .done(let outcome):
            return outcome
        case .write:
            return await writeBatch()
        }
    }

    /// Writes one batch (which holds this caller's window), answers its callers, and passes
    /// the pen to the next waiting caller if any. Returns this caller's outcome.
    private func writeBatch() async -> Outcome {
        let batch = state.withLock { state -> [Waiting] in
            let count = min(state.queue.count, maximumBatch)
            defer { state.queue.removeFirst(count) }
            return Array(state.queue.prefix(count))
        }
        let outcomes: [Outcome]
        do {
            outcomes = try await store.recordWindows(batch.map { ($0.window, $0.reportedTotal) })
        } catch {
            outcomes = Array(repeating: .failure(error), count: batch.count)
        }
        // The first of the batch is this caller (a leader always finds its own window at the
        // head of the queue: it was woken because it was first).
        for (waiting, outcome) in zip(batch, outcomes).dropFirst() {
            waiting.continuation?.resume(returning: .done(outcome))
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
        return outcomes[0]
    }
}
