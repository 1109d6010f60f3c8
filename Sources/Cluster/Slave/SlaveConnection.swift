import Engine
import GRPCCore
import Logging
import NIOCore
import Protocol
import Store
import Synchronization

/// The slave's link to the master: the command stream, kept open across failures (reconnecting
/// with backoff), and the heartbeats. Commands go to the slave as events.
struct SlaveConnection<Transport: ClientTransport>: Sendable {
    let slave: Slave
    let master: Result_Result.Client<Transport>
    let events: AsyncStream<Slave.Event>.Continuation

    private var configuration: SlaveConfiguration { slave.configuration }
    private var logger: Logger { slave.logger }

    private enum SessionEnd {
        /// The master ended the session (SHUTDOWN sent, or the stream closed cleanly).
        case ended
        /// The master refused this slave: no point retrying.
        case refused(ClusterError)
        case failed(String)
    }

    /// Connects, and reconnects whenever the stream breaks, until the master ends the session
    /// or cannot be reached for `connectTimeout` (first time) or `reconnectFor` (afterwards).
    func keepConnected() async {
        let started = ContinuousClock.now
        var lostSince: ContinuousClock.Instant?
        var everWelcomed = false
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            let welcomed = AtomicFlag()
            switch await session(welcomed: welcomed) {
            case .ended:
                return
            case .refused(let error):
                events.yield(.gaveUp(error))
                return
            case .failed(let reason):
                // Cancelled: the slave is leaving, not losing its master.
                if Task.isCancelled { return }
                let now = ContinuousClock.now
                if welcomed.isSet {
                    everWelcomed = true
                    lostSince = now
                    delay = .milliseconds(100)
                    logger.warning("lost the master (\(reason)); reconnecting for up to \(configuration.reconnectFor)")
                }
                if !everWelcomed, now - started >= configuration.connectTimeout {
                    events.yield(
                        .gaveUp(
                            ClusterError(
                                .masterUnreachable,
                                "cannot reach the master at \(configuration.masterHost):\(configuration.masterPort) "
                                    + "(\(reason)); "
                                    + (configuration.masterTLS == nil
                                        ? "is it running? Start it with: goloadtest MASTER 0.0.0.0 \(configuration.masterPort) NAME (a master with TLS needs --tls-ca)"
                                        : "over TLS: is it running with --tls-cert, signed by this slave's --tls-ca? With --tls-client-ca it also needs this slave's --tls-cert/--tls-key, signed by that CA")
                            )))
                    return
                }
                if let since = lostSince, now - since >= configuration.reconnectFor {
                    events.yield(
                        .gaveUp(
                            ClusterError(
                                .masterWentAway,
                                "lost the master at \(configuration.masterHost):\(configuration.masterPort) and could not "
                                    + "reconnect for \(configuration.reconnectFor) (\(reason))")))
                    return
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    /// One connection: forwards commands until the stream ends, breaks, or the master falls
    /// silent for `masterTimeout`.
    private func session(welcomed: AtomicFlag) async -> SessionEnd {
        var request = Result_ConnectRequest()
        request.slaveName = configuration.name
        request.version = goloadtestVersion
        if let plan = configuration.plan { request.plan = Result_Plan(plan) }
        request.sessionID = slave.sessionId
        request.resumeRunID = slave.state.runId ?? 0
        let events = self.events
        let timeout = configuration.masterTimeout
        do {
            try await master.connect(request, metadata: slave.metadata) { response in
                let lastHeard = AtomicStamp(Self.uptime())
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await command in response.messages {
                            lastHeard.set(Self.uptime())
                            if command.kind == .welcome {
                                welcomed.set()
                                self.logger.info("connected to master \(command.message)")
                            }
                            if command.kind != .heartbeat { events.yield(.command(command)) }
                            if command.kind == .shutdown { return }
                        }
                        // The stream closed without SHUTDOWN: the master is going away.
                        throw RPCError(code: .unavailable, message: "the master closed the stream")
                    }
                    group.addTask {
                        let limit = UInt64(max(0, timeout.nanoseconds))
                        while true {
                            try await Task.sleep(for: .milliseconds(200))
                            if Self.uptime() &- lastHeard.value > limit {
                                throw RPCError(code: .unavailable, message: "no word from the master for \(timeout)")
                            }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
            return .ended
        } catch let error as RPCError
            where error.code == .alreadyExists || error.code == .unauthenticated || error.code == .invalidArgument
        {
            return .refused(ClusterError(.refusedByMaster, "the master refused this slave: \(error.message)"))
        } catch let error as RPCError {
            return .failed(error.message)
        } catch {
            return .failed("\(error)")
        }
    }

    /// Tells the master every second that this slave is alive, unless the master stored one
    /// of its windows within that second (which told it as much): at 1,000 slaves that halves
    /// the calls the master answers.
    func sendHeartbeats() async {
        var options = CallOptions.defaults
        options.timeout = .seconds(2)
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.heartbeatInterval)
            if let acknowledged = slave.state.lastAcknowledged, .now - acknowledged < configuration.heartbeatInterval {
                continue
            }
            var request = Result_HeartbeatRequest()
            request.slaveName = configuration.name
            request.sessionID = slave.sessionId
            request.runID = slave.state.runId ?? 0
            request.pendingWindows = UInt64(max(0, slave.state.pendingWindows))
            _ = try? await master.heartbeat(request, metadata: slave.metadata, options: options)
        }
    }

    static func uptime() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds
    }

}

final class AtomicFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}

final class AtomicStamp: Sendable {
    private let stamp: Atomic<UInt64>
    init(_ value: UInt64) { stamp = Atomic(value) }
    func set(_ value: UInt64) { stamp.store(value, ordering: .relaxed) }
    var value: UInt64 { stamp.load(ordering: .relaxed) }
}
