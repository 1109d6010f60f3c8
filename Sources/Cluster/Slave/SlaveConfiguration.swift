import Engine
import NIOCore
import NIOSSL
import Protocol
import Store

/// Everything a slave needs, with defaults; built from flags and `.env` by the command line.
public struct SlaveConfiguration: Sendable {
    public var masterHost: String
    public var masterPort: Int
    /// Unique among the slaves of one master.
    public var name: String
    /// The plan this slave brings; nil when it takes its master's at each START.
    public var plan: SlavePlan?
    /// The plan's requests (nil without a plan).
    public var mix: RequestMix?
    /// `https://` targets: how certificates are checked, built once (nil for `http://`).
    public var targetTLS: NIOSSLContext?
    /// This slave's own settings for `https://` targets, also used for a master's plan.
    public var tls: TargetTLS
    /// The master's address over TLS: how its certificate is checked, and this slave's own.
    public var masterTLS: SlaveTLS?
    /// Sent as `goloadtest-token` metadata when the master requires one.
    public var token: String?
    /// How long to keep trying to reach the master at start-up.
    public var connectTimeout: Duration = .seconds(10)
    /// A request with no complete response after this long fails as a timeout (the plan's).
    public var requestTimeout: Duration {
        get { plan?.timeout ?? .seconds(30) }
        set { plan?.timeout = newValue }
    }
    /// How long to keep retrying a window the master cannot take.
    public var reconnectFor: Duration = .seconds(60)
    /// How often a window is closed and posted.
    public var windowInterval: Duration = .seconds(1)
    /// How often the slave tells the master it is alive.
    public var heartbeatInterval: Duration = .seconds(1)
    /// No word from the master (commands or heartbeats) for this long: reconnect.
    public var masterTimeout: Duration = .seconds(3)
    /// Windows waiting for the master beyond this: the load stops rather than drop data.
    public var maximumPendingWindows = 600
    /// Event loop threads for the load engine.
    public var eventLoopThreads: Int = System.coreCount

    /// Validates the plan and parses its URL.
    public init(
        masterHost: String, masterPort: Int, name: String, plan: SlavePlan, token: String? = nil,
        headers: [String] = [], body: [UInt8] = [], tls: TargetTLS = TargetTLS()
    ) throws(ClusterError) {
        guard !plan.url.isEmpty else {
            throw ClusterError(.invalidURL, "no target URL: set GET_URL in .env or the environment, or pass --url http://HOST:PORT/PATH")
        }
        guard plan.tasks > 0 || plan.duration != nil, plan.batch > 0 else {
            throw ClusterError(.invalidPlan, "tasks and batch must be positive integers (got \(plan.tasks) and \(plan.batch))")
        }
        self.masterHost = masterHost
        self.masterPort = masterPort
        self.name = name
        self.plan = plan
        do throws(EngineError) {
            let mix = plan.requests.isEmpty
                ? RequestMix(single: try LoadTarget(url: plan.url, method: plan.method, headers: headers, body: body))
                : try RequestMix(plan.requests, headers: headers)
            self.mix = mix
            let target = mix.targets[0]
            if target.isTLS {
                targetTLS = try tls.makeContext(http2: plan.http2)
            } else if tls != TargetTLS() {
                throw EngineError(
                    .tlsSetup, "--insecure, --ca-file, --cert and --key are for https:// targets; \(plan.url) is http://")
            }
        } catch {
            throw ClusterError(error.code == .invalidURL ? .invalidURL : .invalidPlan, error.message)
        }
        self.token = token
        self.tls = tls
        self.plan?.insecure = tls.insecure && mix?.targets[0].isTLS == true
    }

    /// A slave without a plan of its own: it runs the share its master sends with each START.
    public init(masterHost: String, masterPort: Int, name: String, token: String? = nil, tls: TargetTLS = TargetTLS()) {
        self.masterHost = masterHost
        self.masterPort = masterPort
        self.name = name
        self.token = token
        self.tls = tls
    }

    /// The plan it brought, ready to run.
    var ownPlan: RunnablePlan? {
        guard let plan, let mix else { return nil }
        return RunnablePlan(plan: plan, mix: mix, tls: targetTLS)
    }
}
