import Store
import TestKit
import Testing

@testable import Engine

@Suite("When each request of an open-model run is meant to go")
struct RateScheduleTests {
    @Test("a fixed rate: request i at i / rate")
    func fixed() {
        let schedule = RateSchedule(rate: 200)
        #expect(schedule.offset(of: 0) == 0)
        #expect(schedule.offset(of: 200) == 1)
        #expect(schedule.meant(by: 2.5) == 500)
        #expect(schedule.seconds == nil)
    }

    @Test("a ramp 0→400→0 over 6 s: 1,200 requests, 67, 200, 333, 333, 200, 67 a second")
    func ramp() throws {
        let schedule = RateSchedule(stages: [
            RateStage(durationNs: 3_000_000_000, target: 400), RateStage(durationNs: 3_000_000_000, target: 0),
        ])
        #expect(schedule.seconds == 6)
        #expect(abs(schedule.meant(by: 6) - 1200) < 1e-6)
        let perSecond = (0..<6).map { second in
            (0..<1300).filter { index in
                guard let offset = schedule.offset(of: UInt64(index)) else { return false }
                return offset >= Double(second) && offset < Double(second + 1)
            }.count
        }
        #expect(perSecond.reduce(0, +) == 1200)
        for (count, expected) in zip(perSecond, [67, 200, 333, 333, 200, 67]) {
            #expect(abs(count - expected) <= 1, "\(perSecond)")
        }
        #expect(schedule.offset(of: 1200) == nil)
    }

    @Test("any ramp: offsets never go back, and the requests meant by t are those meant to go before t")
    func consistent() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let stages = (0..<Int(random.next() % 5 + 1)).map { _ in
                RateStage(durationNs: Int64(random.next() % 3_000 + 1) * 1_000_000, target: Double(random.next() % 2_000))
            }
            let schedule = RateSchedule(stages: stages)
            var previous = -1.0
            var index: UInt64 = 0
            while let offset = schedule.offset(of: index), index < 20_000 {
                #expect(offset >= previous)
                #expect(offset <= (schedule.seconds ?? 0))
                previous = offset
                index += 1
            }
            // Every request meant is handed out, and no more.
            #expect(abs(Double(index) - schedule.meant(by: schedule.seconds ?? 0).rounded(.up)) <= 1, "\(stages)")
        }
    }

    @Test("a LoadControl with stages is rate-driven and ends with them")
    func control() {
        let control = LoadControl(tasks: 0, stages: [RateStage(durationNs: 1_000_000_000, target: 100)])
        #expect(control.isRateDriven)
        #expect(control.remainingNanoseconds <= 1_000_000_000)
    }

    @Test("a connection ramp 0→8→8→0: the connections in use at each moment, rounded")
    func connectionRamp() {
        let ramp = RateSchedule(stages: [
            RateStage(durationNs: 2_000_000_000, target: 8), RateStage(durationNs: 2_000_000_000, target: 8),
            RateStage(durationNs: 2_000_000_000, target: 0),
        ])
        #expect(ramp.seconds == 6)
        #expect([0, 0.5, 1, 2, 3, 4, 5, 6, 7].map { Int(ramp.value(at: $0).rounded()) } == [0, 2, 4, 8, 8, 8, 4, 0, 0])
        let closed = LoadControl(tasks: 0, connectionStages: [RateStage(durationNs: 60_000_000_000, target: 0)])
        #expect(!closed.allows(connection: 0))
        let open = LoadControl(tasks: 10)
        #expect(open.allows(connection: 1_000))
    }
}
