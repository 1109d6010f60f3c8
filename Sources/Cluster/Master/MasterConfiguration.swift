import Engine
import Protocol
import Store

/// Everything a master needs, with defaults; built from flags and `.env` by the command line.
public struct MasterConfiguration: Sendable {
    /// Address to listen on, e.g. "0.0.0.0" or "127.0.0.1"; "::" for IPv6.
    public var host: String
    /// Port to listen on; 0 picks a free one (logged at start).
    public var port: Int
    /// Recorded in every run this master starts.
    public var name: String
    /// When set, slaves must present it as `goloadtest-token` metadata.
    public var token: String?
    /// TLS on the gRPC port (plaintext when nil); with a client CA, mutual TLS.
    public var tls: MasterTLS?
    /// The test, when the master owns it: each run is this plan split over the slaves, and
    /// slaves need no plan of their own (one they bring is overruled).
    public var plan: MasterPlan?
    /// Thresholds stored with every run, as given (`p99<250ms`, ...): the report judges them.
    public var thresholds: [String] = []
    /// Asked every second while a run goes (`--abort-on-fail`): the reason to stop the run
    /// now, or nil. The run then ends `aborted`, with the reason stored.
    public var abortCheck: (@Sendable (_ runId: Int64) async -> String?)?
    /// Start a run as soon as this many slaves are connected, then exit when it ends.
    public var expectSlaves: Int?
    /// How often progress is logged during a run.
    public var progressInterval: Duration = .seconds(1)
    /// Where progress goes every `progressInterval` (and once when a run ends), instead of the
    /// log: the command line's progress line.
    public var progress: (@Sendable (RunProgress) -> Void)?
    /// Told of every window newly stored in the current run, after it is on disk.
    public var windowStored: (@Sendable (SummaryWindow) -> Void)?
    /// How often the master sends each slave a heartbeat.
    public var heartbeatInterval: Duration = .seconds(1)
    /// A slave silent (or away) this long is declared lost.
    public var slaveTimeout: Duration = .seconds(3)
    /// How far a slave's clock may be from the master's: a window that starts earlier than the
    /// run's start, or ends later than now, by more than this is refused.
    public var maxClockSkew: Duration = .seconds(60)
    /// With `expectSlaves`: give up (exit non-zero) if they have not all connected by then.
    public var waitFor: Duration?
    /// How long a stop (console `stop`/`quit`, SIGINT, SIGTERM) waits for the slaves' final windows.
    public var stopGrace: Duration = .seconds(5)
    /// HTTP/2 streams one connection may have open at once (each slave holds one for its
    /// commands, plus one per call in flight). Advertised in the server's SETTINGS, so a client
    /// or proxy that multiplexes many slaves on one connection queues the rest instead of
    /// having its connection closed.
    public var maxStreamsPerConnection = 4096
    /// Windows that may wait to be stored at once; beyond, slaves are told the master is busy,
    /// keep their windows and send them again (memory stays flat under any overload).
    public var ingestQueue = 8_192
    /// At start, take up the run this master's name left running (its slaves deliver what they
    /// kept) and close older ones as aborted.
    public var takesUpRuns = true
    /// Largest message a slave may send.
    public var maximumMessageBytes = 1 << 20
    /// How long a shutdown waits for RPCs to finish before closing connections.
    public var shutdownGrace: Duration = .seconds(2)

    public init(host: String, port: Int, name: String, token: String? = nil, expectSlaves: Int? = nil) {
        self.host = host
        self.port = port
        self.name = name
        self.token = token
        self.expectSlaves = expectSlaves
    }
}
