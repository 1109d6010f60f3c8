import Synchronization

/// Collects what the engine measures into the current window, one shard per event loop so that
/// connections on different threads never wait for each other; `close()` takes the window.
public final class WindowRecorder: Sendable {
    let shards: [Shard]
    let rateDriven: Bool
    let names: [String]

    /// `expected`: the statuses that count as successes; `names`: the run's request names
    /// (each counted apart), none for a run of one unnamed request.
    public init(shards: Int, rateDriven: Bool = false, expected: StatusSet = .successes, names: [String] = []) {
        self.rateDriven = rateDriven
        self.names = names
        self.shards = (0..<max(1, shards)).map { _ in Shard(rateDriven: rateDriven, expected: expected, names: names) }
    }

    /// Takes everything recorded since the last call and starts a new, empty window.
    public func close() -> WindowCounts {
        var window = WindowCounts(rateDriven: rateDriven, names: names)
        for shard in shards {
            var fresh = WindowCounts(rateDriven: rateDriven, names: names)
            shard.counts.withLock { swap(&$0, &fresh) }
            window.merge(fresh)
        }
        return window
    }

    final class Shard: Sendable {
        let counts: Mutex<WindowCounts>
        let expected: StatusSet

        init(rateDriven: Bool, expected: StatusSet, names: [String]) {
            counts = Mutex(WindowCounts(rateDriven: rateDriven, names: names))
            self.expected = expected
        }

        func recordResponse(
            status: Int, latencyMicroseconds: UInt64, uncorrectedMicroseconds: UInt64 = 0, late: Bool = false,
            bytesReceived: UInt64, bytesSent: UInt64, name: Int? = nil
        ) {
            let success = expected.contains(status)
            counts.withLock {
                $0.recordResponse(
                    status: status, success: success, latencyMicroseconds: latencyMicroseconds,
                    uncorrectedMicroseconds: uncorrectedMicroseconds, late: late,
                    bytesReceived: bytesReceived, bytesSent: bytesSent, name: name)
            }
        }

        func recordConnection(handshakeMicroseconds: UInt64?) {
            counts.withLock { $0.recordConnection(handshakeMicroseconds: handshakeMicroseconds) }
        }

        func recordError(
            _ kind: FailureKind, latencyMicroseconds: UInt64 = 0, late: Bool = false, bytesReceived: UInt64,
            bytesSent: UInt64, name: Int? = nil
        ) {
            counts.withLock {
                $0.recordError(
                    kind, latencyMicroseconds: latencyMicroseconds, late: late, bytesReceived: bytesReceived,
                    bytesSent: bytesSent, name: name)
            }
        }
    }
}
