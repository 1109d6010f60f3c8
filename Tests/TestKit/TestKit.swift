import Synchronization

/// A wait that took longer than it should have.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Runs `body`, failing with `TimedOut` if it has not finished after `limit`.
///
/// The work runs in a task of its own, so even work that ignores cancellation (an engine run, a
/// stuck RPC) cannot hold the test: on timeout the caller gets the error at once and the work is
/// cancelled and left behind.
public func withTimeout<T: Sendable>(
    _ limit: Duration = .seconds(30),
    _ what: String = "the test",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let work = Task { try await body() }
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let once = OneShot(continuation)
        let timer = Task {
            try await Task.sleep(for: limit)
            once.resume(with: .failure(TimedOut(description: "\(what) did not finish within \(limit)")))
            work.cancel()
        }
        Task {
            let result = await work.result
            timer.cancel()
            once.resume(with: result)
        }
    }
}

/// Resumes a continuation once, whoever comes first.
private final class OneShot<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func resume(with result: Result<T, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}

/// Polls `condition` until it holds, failing with `TimedOut` after `limit`.
public func eventually(
    _ what: String, within limit: Duration = .seconds(20), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut(description: "waited \(limit) for \(what)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// SplitMix64: a tiny deterministic generator, so every "random" test sees the same numbers on
/// every run and every machine.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
