import NIOCore
import Store

/// The requests of a run and the order they go in: the one request of a URL, or the requests
/// of a targets file, each as often as its weight says, interleaved in a fixed order (weights
/// 1:2:1 for A, B, C go B A C B B A C B ...). The n-th request the run sends is
/// `target(for: n)`, so the mix holds over any span of the run, whatever the timing; the slaves
/// of a master's plan each take every `stride`-th entry from their own `offset`, so that
/// together they go through the order once.
public struct RequestMix: Sendable {
    /// Every request, encoded once; all to the same scheme, host and port.
    public let targets: [LoadTarget]
    /// The request names, each once, in the order they first appear; empty for one unnamed
    /// request (the windows then count no names).
    public let names: [String]
    /// Per target: the index of its name in `names`.
    let nameIndex: [Int]
    /// Per target: its size on the wire (HTTP/1.1).
    let sizes: [UInt64]
    /// One cycle of target indices.
    let order: [Int32]
    /// This slave's part of the order: request n is entry n * stride + offset.
    public private(set) var offset: UInt64 = 0
    public private(set) var stride: UInt64 = 1

    /// The largest sum of weights: one cycle of the order.
    public static let maximumTotalWeight = 100_000

    /// One request, unnamed.
    public init(single target: LoadTarget) {
        targets = [target]
        names = []
        nameIndex = [0]
        sizes = [UInt64(target.request.readableBytes)]
        order = [0]
    }

    /// `requests` with `headers` added to each (a request's own header of the same name wins).
    /// Throws `EngineError(.invalidURL)` for a request that cannot be sent, or that goes to
    /// another scheme, host or port than the first.
    /// `source(i)`: where request i came from, for messages (a line of a targets file).
    public init(
        _ requests: [PlannedRequest], headers: [String] = [], source: (Int) -> String? = { _ in nil }
    ) throws(EngineError) {
        guard let first = requests.first else {
            throw EngineError(.invalidURL, "a mix needs at least one request")
        }
        guard requests.count <= PlannedRequest.maximumRequests else {
            throw EngineError(.invalidURL, "\(requests.count) requests; a mix has at most \(PlannedRequest.maximumRequests)")
        }
        var targets: [LoadTarget] = []
        var names: [String] = []
        var nameIndex: [Int] = []
        var indexOfName: [String: Int] = [:]
        var total = 0
        for (position, request) in requests.enumerated() {
            let label = source(position) ?? "request \(position + 1) (\(Names.quoted(request.name)))"
            if let problem = Names.problem(request.name, what: "request name", maximumBytes: PlannedRequest.maximumNameBytes) {
                throw EngineError(.invalidURL, "\(label): \(problem)")
            }
            guard (1...PlannedRequest.maximumWeight).contains(request.weight) else {
                throw EngineError(.invalidURL, "\(label): weight \(request.weight) is not 1...\(PlannedRequest.maximumWeight)")
            }
            total += Int(request.weight)
            let own = Set(request.headers.compactMap { $0.split(separator: ":", maxSplits: 1).first?.lowercased() })
            let shared = headers.filter { header in
                !own.contains(header.split(separator: ":", maxSplits: 1).first?.lowercased() ?? "")
            }
            let target: LoadTarget
            do throws(EngineError) {
                target = try LoadTarget(
                    url: request.url, method: request.method, headers: shared + request.headers, body: request.body,
                    source: "the URL")
            } catch {
                throw EngineError(error.code, "\(label): \(error.message)")
            }
            if let origin = targets.first, origin.host != target.host || origin.port != target.port || origin.isTLS != target.isTLS {
                throw EngineError(
                    .invalidURL,
                    "\(label) goes to \(target.url), another scheme, host or port than the first request's (\(first.url)); one run aims at one server")
            }
            targets.append(target)
            if let index = indexOfName[request.name] {
                nameIndex.append(index)
            } else {
                guard names.count < PlannedRequest.maximumNames else {
                    throw EngineError(
                        .invalidURL,
                        "more than \(PlannedRequest.maximumNames) request names; give related requests one name with '# name: NAME'")
                }
                indexOfName[request.name] = names.count
                nameIndex.append(names.count)
                names.append(request.name)
            }
        }
        guard total <= Self.maximumTotalWeight else {
            throw EngineError(.invalidURL, "the weights add up to \(total); keep them to \(Self.maximumTotalWeight) in all")
        }
        self.targets = targets
        self.names = names
        self.nameIndex = nameIndex
        self.sizes = targets.map { UInt64($0.request.readableBytes) }
        self.order = Self.order(weights: requests.map { Int($0.weight) })
    }

    /// One cycle: request i comes weight(i) times, at even steps, all requests interleaved by
    /// when each is next due (ties by position), so that no request waits long for its turn.
    static func order(weights: [Int]) -> [Int32] {
        var slots: [(due: Double, index: Int32)] = []
        slots.reserveCapacity(weights.reduce(0, +))
        for (index, weight) in weights.enumerated() {
            for k in 0..<weight {
                slots.append(((Double(k) + 0.5) / Double(weight), Int32(index)))
            }
        }
        slots.sort { $0.due != $1.due ? $0.due < $1.due : $0.index < $1.index }
        return slots.map(\.index)
    }

    /// The same requests, of which this slave sends entries `offset`, `offset + stride`, ...
    /// (slave `offset` of `stride`).
    public func part(offset: UInt64, of stride: UInt64) -> RequestMix {
        var part = self
        part.stride = max(stride, 1)
        part.offset = offset % part.stride
        return part
    }

    /// The target the `number`-th request of the run (0-based) sends.
    @inline(__always)
    func target(for number: UInt64) -> Int {
        guard order.count > 1 else { return Int(order[0]) }
        let count = UInt64(order.count)
        // Modulo the cycle first: no product overflows.
        let entry = ((number % count) &* (stride % count) &+ offset) % count
        return Int(order[Int(entry)])
    }

    /// The name index the target's results are counted under, or nil without names.
    @inline(__always)
    func name(of target: Int) -> Int? {
        names.isEmpty ? nil : nameIndex[target]
    }
}
