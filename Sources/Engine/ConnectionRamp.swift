import Store

/// The connections a closed-model run keeps in use over time (k6's ramping-vus): from 0,
/// linearly through each stage's target.
struct ConnectionRamp: Sendable {
    private let stages: [(start: Double, seconds: Double, from: Double, to: Double)]

    init(_ stages: [RateStage]) {
        var result: [(Double, Double, Double, Double)] = []
        var start = 0.0
        var from = 0.0
        for stage in stages {
            let seconds = Double(stage.durationNs) / 1e9
            result.append((start, seconds, from, stage.target))
            start += seconds
            from = stage.target
        }
        self.stages = result
    }

    /// The whole ramp's length in seconds.
    var seconds: Double { stages.last.map { $0.start + $0.seconds } ?? 0 }

    /// Connections in use `seconds` into the run (rounded to the nearest).
    func connections(at seconds: Double) -> Int {
        guard let stage = stages.last(where: { $0.start <= seconds }) else { return 0 }
        let into = min(seconds - stage.start, stage.seconds)
        let value = stage.seconds > 0 ? stage.from + (stage.to - stage.from) * into / stage.seconds : stage.to
        return Int(min(value, 1e9).rounded())
    }
}
