import Foundation

/// A cleartext HTTP/2 "server" on 127.0.0.1 that answers every connection with the same bytes,
/// whatever the client sends: for servers that break the protocol or refuse work in ways
/// nginx never does. Each connection is read until the client closes it (at most 5 s).
final class ScriptedHTTP2Server: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let thread: Thread
    private let counter = Counter()

    init(answer: [UInt8]) throws {
        let (fd, port) = try boundLoopbackSocket()
        guard listen(fd, 16) == 0 else {
            close(fd)
            throw ChildProcessError.failed("cannot listen on 127.0.0.1:\(port)")
        }
        self.listener = fd
        self.port = port
        let counter = self.counter
        thread = Thread {
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { return }
                counter.add()
                var timeout = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                var scratch = [UInt8](repeating: 0, count: 4_096)
                while recv(connection, &scratch, scratch.count, 0) > 0 {}
                close(connection)
            }
        }
        thread.start()
    }

    /// Connections accepted so far.
    var connections: Int { counter.value }

    /// Stops accepting (the thread's `accept` returns).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func add() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }

    /// One frame: 9 bytes of header, then the payload.
    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length), type, flags]
            + bytes(stream) + payload
    }

    static func bytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    static let settings: UInt8 = 4, rstStream: UInt8 = 3, goaway: UInt8 = 7
}
