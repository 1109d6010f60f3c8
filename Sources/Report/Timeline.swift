import Store

/// A run over time: one row per time bucket, from the stored windows. Every window falls in
/// exactly one bucket (by its start), so the buckets add up to the run's totals.
public struct Timeline: Sendable, Equatable {
    public struct Bucket: Sendable, Equatable {
        /// ns since the epoch.
        public var start: Int64
        public var requests: UInt64 = 0
        public var failures: UInt64 = 0
        /// The part of the bucket its windows covered (the last bucket may be partial), seconds.
        public var seconds: Double = 0
        public var latency = LatencySummary.empty
        /// Responses by status code, and failures by kind, in the bucket.
        public var statusCodes: [Int: UInt64] = [:]
        public var errors: [String: UInt64] = [:]

        public var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }
    }

    public var runId: Int64
    /// ns since the epoch.
    public var runStartedAt: Int64
    /// Bucket width, ns.
    public var every: Int64
    /// Only this slave's windows, or all.
    public var slave: String?
    /// Only this request name's part of the windows, or all requests.
    public var name: String?
    public var buckets: [Bucket]

    /// Reads a run's windows in time order, one bucket's histogram at a time. A long run of many
    /// slaves is read in two halves of its time span, on two threads; a smaller one from one
    /// snapshot.
    /// The timeline of a closed run in buckets of whole seconds is read from its rollups of
    /// seconds; `fromWindows` reads the windows anyway (and so does `GOLOADTEST_VERIFY_ROLLUPS=1`,
    /// to check the two are equal).
    public init(
        store: any RunHistory, runId: Int64, every: Duration, slave: String? = nil, name: String? = nil, fromWindows: Bool = false
    ) throws {
        let width = max(1, every.nanoseconds)
        if !fromWindows, slave == nil, name == nil, width % 1_000_000_000 == 0,
            let buckets = try Self.fromRollups(store: store, runId: runId, width: width)
        {
            self.init(runId: runId, runStartedAt: buckets.runStartedAt, every: width, slave: nil, buckets: buckets.buckets)
            if RunReport.verifyRollups {
                let windows = try Timeline(store: store, runId: runId, every: every, fromWindows: true)
                guard windows == self else { throw ReportError.rollupsDiffer(runId: runId, what: "timeline") }
            }
            return
        }
        let (run, startSpan, buckets) = try store.readRun(runId) { run, slaves, windows in
            if let slave, !slaves.contains(where: { $0.slave == slave }) {
                throw ReportError.unknownSlave(runId: runId, slave: slave, existing: slaves.map(\.slave))
            }
            if let name {
                let names = RunReport.requestNames(run: run, slaves: slaves, stored: try windows.names())
                guard names.contains(name) else { throw ReportError.unknownName(runId: runId, name: name, existing: names) }
            }
            let span = try windows.startRange()
            if let span { try Self.checkBucketCount(runStartedAt: run.startedAt, lastStart: span.upperBound, width: width) }
            guard slave == nil, name == nil, slaves.count >= RunReport.parallelFromSlaves, let span else {
                var builder = Builder(runStartedAt: run.startedAt, width: width)
                try windows.forEach(order: .time, slave: slave, name: name) { try builder.add($0) }
                return (run, span, Optional(builder.finish()))
            }
            return (run, Optional(span), nil)
        }
        if let buckets {
            self.init(runId: runId, runStartedAt: run.startedAt, every: width, slave: slave, name: name, buckets: buckets)
            return
        }
        // Split at a bucket boundary near the middle: each half makes whole buckets.
        guard let span = startSpan else {
            self.init(runId: runId, runStartedAt: run.startedAt, every: width, slave: nil, buckets: [])
            return
        }
        let middleBucket = Int64((Double(span.lowerBound) / 2 + Double(span.upperBound) / 2 - Double(run.startedAt)) / Double(width))
        let split = run.startedAt + max(1, middleBucket) * width
        let halves = [Int64.min..<split, split..<Int64.max]
        let parts = try concurrently(halves.count) { index in
            try store.readWindows(ofRun: runId, startedIn: halves[index]) { windows in
                var builder = Builder(runStartedAt: run.startedAt, width: width)
                try windows.forEach(order: .time) { try builder.add($0) }
                return builder.finish()
            }
        }
        var merged: [Bucket] = []
        for part in parts {
            if let last = merged.last, let first = part.first {
                var next = last.start + width
                while next < first.start {
                    merged.append(Bucket(start: next))
                    next += width
                }
            }
            merged += part
        }
        self.init(runId: runId, runStartedAt: run.startedAt, every: width, slave: nil, buckets: merged)
    }

    /// A closed run's buckets from its rollups of seconds (each stands for the windows that
    /// started in it, and falls whole in one bucket); nil for a run without them.
    static func fromRollups(store: any RunHistory, runId: Int64, width: Int64) throws -> (runStartedAt: Int64, buckets: [Bucket])? {
        try store.readRun(runId) { run, _, windows in
            guard windows.hasSecondRollups else { return nil }
            if let span = try windows.secondRollupStartRange() {
                try Self.checkBucketCount(runStartedAt: run.startedAt, lastStart: span.upperBound, width: width)
            }
            var builder = Builder(runStartedAt: run.startedAt, width: width)
            try windows.forEachSecondRollup { try builder.add($0) }
            return (run.startedAt, builder.finish())
        }
    }

    /// At most this many rows: a timeline is for reading.
    public static let maximumBuckets: Int64 = 100_000

    /// Refuses a timeline whose windows (by the latest start) would need more than
    /// `maximumBuckets` rows: a window stored with a wrong clock must not make a report allocate
    /// without bound.
    static func checkBucketCount(runStartedAt: Int64, lastStart: Int64, width: Int64) throws(ReportError) {
        let buckets = (Double(lastStart) - Double(runStartedAt)) / Double(width)
        guard buckets < Double(maximumBuckets) else {
            throw .tooManyBuckets(buckets: buckets, every: width)
        }
    }

    public init(runId: Int64, runStartedAt: Int64, every: Int64, slave: String?, name: String? = nil, buckets: [Bucket]) {
        self.name = name
        self.runId = runId
        self.runStartedAt = runStartedAt
        self.every = every
        self.slave = slave
        self.buckets = buckets
    }


    struct Builder {
        let runStartedAt: Int64
        let width: Int64
        var buckets: [Bucket] = []
        var current: Bucket?
        var currentEnd: Int64 = 0
        var latency = LatencyHistogram()

        init(runStartedAt: Int64, width: Int64) {
            self.runStartedAt = runStartedAt
            self.width = width
        }

        mutating func add(_ window: StoredWindow) throws {
            // Windows before the run's start count in its first bucket; the caller checked that
            // the latest start is within `maximumBuckets`, so nothing here overflows.
            let (offset, overflow) = window.startedAt.subtractingReportingOverflow(runStartedAt)
            let index = overflow ? (window.startedAt < runStartedAt ? 0 : Timeline.maximumBuckets) : max(0, offset / width)
            let start = runStartedAt + min(index, Timeline.maximumBuckets) * width
            if current?.start != start {
                close()
                // Empty buckets between two windows still get a row.
                var next = (buckets.last?.start).map { $0 + width } ?? start
                while next < start {
                    buckets.append(Bucket(start: next))
                    next += width
                }
                current = Bucket(start: start)
                currentEnd = start
            }
            if var bucket = current {
                bucket.requests = bucket.requests.saturatingAdd(window.requests)
                bucket.failures = bucket.failures.saturatingAdd(window.failures)
                bucket.statusCodes.merge(window.statusCodes) { $0.saturatingAdd($1) }
                bucket.errors.merge(window.errors) { $0.saturatingAdd($1) }
                current = bucket
            }
            currentEnd = max(currentEnd, window.endedAt)
            try window.replayLatency(into: &latency)
        }

        mutating func close() {
            guard var bucket = current else { return }
            bucket.seconds = min(max(Double(currentEnd) - Double(bucket.start), 0), Double(width)) / 1e9
            bucket.latency = LatencySummary(latency)
            latency.reset()
            buckets.append(bucket)
            current = nil
        }

        mutating func finish() -> [Bucket] {
            close()
            return buckets
        }
    }
}

/// What the Report module refuses.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    case unknownSlave(runId: Int64, slave: String, existing: [String])
    case unknownName(runId: Int64, name: String, existing: [String])
    case compareWithItself(Int64)
    case tooManyBuckets(buckets: Double, every: Int64)
    /// `GOLOADTEST_VERIFY_ROLLUPS=1`: a report from rollups differs from the one from windows.
    case rollupsDiffer(runId: Int64, what: String)

    public var description: String {
        switch self {
        case .unknownSlave(let runId, let slave, let existing):
            return "run \(runId) has no slave \"\(Names.quoted(slave))\"; its slaves: \(existing.map { Names.escaped($0) }.joined(separator: ", "))"
        case .unknownName(let runId, let name, let existing):
            guard !existing.isEmpty else {
                return "run \(runId) has no request names (it ran one request, not a --targets file); leave out --name"
            }
            return "run \(runId) has no request named \"\(Names.quoted(name))\"; its names: \(existing.map { Names.escaped($0) }.joined(separator: ", "))"
        case .compareWithItself(let runId):
            return "--compare \(runId) is the run itself; compare with another run (see goloadtest runs)"
        case .tooManyBuckets(let buckets, let every):
            let count = String(Int64(min(buckets, 9e18)))
            return "the timeline would have \(count) rows of \(Double(every) / 1e9) s (a stored window starts that long "
                + "after the run); pass a larger --every, or --slave NAME to leave out a slave whose clock was wrong"
        case .rollupsDiffer(let runId, let what):
            return "the \(what) of run \(runId) from its rollups differs from the one from its windows (GOLOADTEST_VERIFY_ROLLUPS=1)"
        }
    }
}
