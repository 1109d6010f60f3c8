import Dispatch
import Synchronization

/// Runs `body(0) ... body(count - 1)` on as many threads, waits for all, and returns their
/// results in order (or the first error). Big reports read their parts this way.
func concurrently<T: Sendable>(_ count: Int, _ body: @Sendable (Int) throws -> T) throws -> [T] {
    let results = Results<T>(count: count)
    DispatchQueue.concurrentPerform(iterations: count) { index in
        results.set(index, Result { try body(index) })
    }
    return try results.all()
}

/// Results gathered from the threads of `concurrently`.
private final class Results<T: Sendable>: Sendable {
    private let results: Mutex<[Result<T, any Error>?]>

    init(count: Int) {
        results = Mutex(Array(repeating: nil, count: count))
    }

    func set(_ index: Int, _ result: Result<T, any Error>) {
        results.withLock { $0[index] = result }
    }

    func all() throws -> [T] {
        try results.withLock { $0 }.map { try ($0 ?? .failure(CancellationError())).get() }
    }
}
