import Synchronization

/// Collects what the engine measures into the current window, one shard per event loop so that
/// connections on different threads never wait for each other; `close()` takes the window.
public final class WindowRecorder: Sendable {
    let shards: [Shard]

    public init(shards: Int) {
        self.shards = (0..<max(1, shards)).map { _ in Shard() }
    }

    /// Takes everything recorded since the last call and starts a new, empty window.
    public func close() -> WindowCounts {
        var window = WindowCounts()
        for shard in shards {
            var fresh = WindowCounts()
            shard.counts.withLock { swap(&$0, &fresh) }
            window.merge(fresh)
        }
        return window
    }

    final class Shard: Sendable {
        let counts = Mutex(WindowCounts())

            func recordResponse(status: Int, latencyMicroseconds: UInt64, bytesReceived: UInt64, bytesSent: UInt64) {
            counts.withLock {
                $0.recordResponse(
                    status: status, latencyMicroseconds: latencyMicroseconds,
                    bytesReceived: bytesReceived, bytesSent: bytesSent)
            }
        }

        func recordError(_ kind: FailureKind, bytesReceived: UInt64, bytesSent: UInt64) {
            counts.withLock { $0.recordError(kind, bytesReceived: bytesReceived, bytesSent: bytesSent) }
        }
    }
}
