import GRPCCore
import Protocol
import Synchronization

/// An open StreamSummaries call to the master: a window out, its outcome back, in order. Owned
/// by the one task that posts a run's windows; closed once it breaks, and opened again.
struct SummaryStream<Transport: ClientTransport> {
    private let requests: AsyncStream<Result_Summary>.Continuation
    private let answers: AsyncStream<Result_WindowOutcome>.Continuation
    private var outcomes: AsyncStream<Result_WindowOutcome>.Iterator
    private let failure: FailureBox
    private let call: Task<Void, Never>

    init(master: Result_Result.Client<Transport>, metadata: Metadata) {
        let (toSend, requests) = AsyncStream.makeStream(of: Result_Summary.self)
        let (received, answers) = AsyncStream.makeStream(of: Result_WindowOutcome.self)
        let failure = FailureBox()
        self.requests = requests
        self.answers = answers
        self.failure = failure
        outcomes = received.makeAsyncIterator()
        call = Task {
            do {
                try await master.streamSummaries(
                    metadata: metadata,
                    requestProducer: { writer in
                        for await summary in toSend { try await writer.write(summary) }
                    },
                    onResponse: { response in
                        for try await outcome in response.messages { answers.yield(outcome) }
                    })
                failure.set(RPCError(code: .unavailable, message: "the master closed the window stream"))
            } catch {
                failure.set(error)
            }
            answers.finish()
        }
    }

    /// Sends `summary` and waits for its outcome, at most `timeout`. Throws what ended the
    /// stream (UNIMPLEMENTED from a master that predates it): the stream is closed then.
    mutating func send(_ summary: Result_Summary, timeout: Duration) async throws -> Result_WindowOutcome {
        requests.yield(summary)
        let (answers, failure) = (self.answers, self.failure)
        let timer = Task {
            try await Task.sleep(for: timeout)
            failure.set(RPCError(code: .deadlineExceeded, message: "no outcome from the master within \(timeout)"))
            answers.finish()
        }
        defer { timer.cancel() }
        if let outcome = await outcomes.next() { return outcome }
        close()
        throw failure.error ?? RPCError(code: .unavailable, message: "the window stream ended")
    }

    /// Ends the call (the master sees the stream end).
    func close() {
        requests.finish()
        call.cancel()
    }
}

/// The first error that ended a stream.
final class FailureBox: Sendable {
    private let first = Mutex<(any Error)?>(nil)
    func set(_ error: any Error) { first.withLock { if $0 == nil { $0 = error } } }
    var error: (any Error)? { first.withLock { $0 } }
}
