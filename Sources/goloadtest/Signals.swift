import Dispatch
import Foundation

/// SIGINT and SIGTERM as an async sequence: the first one asks for a graceful stop.
enum Signals {
    static func interrupts() -> AsyncStream<Void> {
        let (stream, sink) = AsyncStream.makeStream(of: Void.self)
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { sink.yield() }
            source.resume()
            sources.withLock { $0.append(source) }
        }
        return stream
    }

    /// Keeps the sources alive for the life of the process.
    private static let sources = LockedSources()
}

final class LockedSources: @unchecked Sendable {
    private let lock = NSLock()
    private var sources: [any DispatchSourceSignal] = []

    func withLock<T>(_ body: (inout [any DispatchSourceSignal]) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&sources)
    }
}
