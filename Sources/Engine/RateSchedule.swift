import Store

/// When each request of an open-model run is meant to go: at a fixed rate, or along stages
/// that ramp the rate linearly from 0 through their targets (k6's ramping-arrival-rate).
/// Request i goes when the requests meant so far reach i: at `i / rate` for a fixed rate.
/// The same ramp of connections in use drives `--connection-stages` (`value(at:)`).
struct RateSchedule: Sendable {
    /// One stage: the rate goes from `from` to `to` (requests/s) over `seconds`, starting
    /// `startSeconds` into the run with `before` requests meant before it.
    private struct Segment: Sendable {
        var startSeconds: Double
        var seconds: Double
        var from: Double
        var to: Double
        var before: Double

        /// Requests meant in the first `t` seconds of the segment.
        func meant(within t: Double) -> Double {
            from * t + (to - from) * t * t / (2 * seconds)
        }

        var total: Double { (from + to) / 2 * seconds }
    }

    private let segments: [Segment]
    /// After the last stage: nothing more (stages), or the fixed rate forever.
    private let fixedRate: Double?

    init(rate: Double) {
        segments = []
        fixedRate = rate
    }

    init(stages: [RateStage]) {
        var segments: [Segment] = []
        var start = 0.0
        var before = 0.0
        var from = 0.0
        for stage in stages {
            let seconds = Double(stage.durationNs) / 1e9
            guard seconds > 0 else {
                from = stage.target
                continue
            }
            let segment = Segment(startSeconds: start, seconds: seconds, from: from, to: stage.target, before: before)
            segments.append(segment)
            start += seconds
            before += segment.total
            from = stage.target
        }
        self.segments = segments
        fixedRate = nil
    }

    /// The whole schedule's length in seconds (stages), nil for a fixed rate.
    var seconds: Double? {
        fixedRate == nil ? (segments.last.map { $0.startSeconds + $0.seconds } ?? 0) : nil
    }

    /// Seconds after the start when request `index` is meant to go; nil when the schedule
    /// means no such request.
    func offset(of index: UInt64) -> Double? {
        let target = Double(index)
        if let fixedRate { return target / fixedRate }
        // The segment in which the count reaches index + 1 (request i is the (i+1)th).
        guard let segment = segments.last(where: { $0.before <= target }), target < segment.before + segment.total else {
            return nil
        }
        // Solve meant(t) = x: (to - from)/(2 s) t² + from t - x = 0, in the form that stays
        // exact when the ramp is flat or starts from 0.
        let x = target - segment.before
        let a = (segment.to - segment.from) / (2 * segment.seconds)
        let b = segment.from
        let root = (b * b + 4 * a * x).squareRoot()
        let t = b + root > 0 ? 2 * x / (b + root) : 0
        return segment.startSeconds + min(max(t, 0), segment.seconds)
    }

    /// The ramp's value `seconds` into the run: requests/s, or connections for a connection ramp.
    func value(at seconds: Double) -> Double {
        if let fixedRate { return fixedRate }
        guard let segment = segments.last(where: { $0.startSeconds <= seconds }) else { return 0 }
        let into = min(seconds - segment.startSeconds, segment.seconds)
        return segment.from + (segment.to - segment.from) * into / segment.seconds
    }

    /// Requests meant in the first `seconds` of the run.
    func meant(by seconds: Double) -> Double {
        if let fixedRate { return seconds * fixedRate }
        guard let segment = segments.last(where: { $0.startSeconds <= seconds }) else { return 0 }
        return segment.before + segment.meant(within: min(seconds - segment.startSeconds, segment.seconds))
    }
}
