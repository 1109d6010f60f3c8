import Store
import TestKit
import Testing

@testable import Cluster
import Engine
import Protocol

/// The run's state machine, without I/O.
@Suite("RunTracker")
struct RunTrackerTests {
    static let plan = SlavePlan(tasks: 100, batch: 10, url: "http://127.0.0.1:8080/")

    /// Run 7 with slaves a (100 tasks) and b (50 tasks).
    func makeTracker() -> RunTracker {
        RunTracker(
            runId: 7,
            slaves: ["a": Self.plan, "b": SlavePlan(tasks: 50, batch: 5, url: "http://127.0.0.1:8080/")])
    }

    func window(_ slave: String, seq: UInt64, successes: UInt64 = 10, failures: UInt64 = 0, isFinal: Bool = false)
        -> SummaryWindow
    {
        testWindow(runId: 7, slave: slave, seq: seq, successes: successes, failures: failures, isFinal: isFinal)
    }

    @Test("the run is not over while any slave is still running")
    func noOutcomeWhileRunning() {
        var tracker = makeTracker()
        #expect(tracker.outcome == nil)
        #expect(tracker.running == ["a", "b"])
        let afterFirst = tracker.stored(window("a", seq: 0))
        #expect(afterFirst == nil)
        let afterFinalOfA = tracker.stored(window("a", seq: 1, isFinal: true))
        #expect(afterFinalOfA == nil)
        #expect(tracker.running == ["b"])
        let afterB = tracker.stored(window("b", seq: 0))
        #expect(afterB == nil)
        #expect(tracker.outcome == nil)
    }

    @Test("the run is completed when every slave's final window is in")
    func completed() {
        var tracker = makeTracker()
        _ = tracker.stored(window("a", seq: 0, isFinal: true))
        let outcome = tracker.stored(window("b", seq: 0, isFinal: true))
        #expect(outcome == .completed)
        #expect(tracker.outcome == .completed)
        #expect(tracker.running.isEmpty)
    }

    @Test("the run is partial when a slave was lost")
    func partial() {
        var tracker = makeTracker()
        let wasRunning = tracker.lost("b")
        #expect(wasRunning)
        #expect(tracker.outcome == nil)
        let outcome = tracker.stored(window("a", seq: 0, isFinal: true))
        #expect(outcome == .partial)
        #expect(tracker.participants["b"]?.status == .lost)
    }

    @Test("a run whose every slave is lost is partial")
    func allLost() {
        var tracker = makeTracker()
        let aWasRunning = tracker.lost("a")
        let bWasRunning = tracker.lost("b")
        #expect(aWasRunning && bWasRunning)
        #expect(tracker.outcome == .partial)
    }

    @Test("a stopped run is aborted once its slaves are done, not before")
    func aborted() {
        var tracker = makeTracker()
        tracker.stop()
        #expect(tracker.outcome == nil)
        _ = tracker.stored(window("a", seq: 0, isFinal: true))
        #expect(tracker.outcome == nil)
        let outcome = tracker.stored(window("b", seq: 0, isFinal: true))
        #expect(outcome == .aborted)
    }

    @Test("stop wins over a lost slave: the operator ended the run")
    func abortedWithLost() {
        var tracker = makeTracker()
        tracker.stop()
        _ = tracker.lost("a")
        _ = tracker.stored(window("b", seq: 0, isFinal: true))
        #expect(tracker.outcome == .aborted)
    }

    @Test("requests and failures add up over slaves and windows; tasks add up over plans")
    func totals() {
        var tracker = makeTracker()
        _ = tracker.stored(window("a", seq: 0, successes: 30, failures: 2))
        _ = tracker.stored(window("a", seq: 1, successes: 8, failures: 0, isFinal: true))
        _ = tracker.stored(window("b", seq: 0, successes: 5, failures: 5))
        #expect(tracker.requests == 50)
        #expect(tracker.failures == 7)
        #expect(tracker.tasks == 150)
        #expect(tracker.participants["a"]?.requests == 40)
        #expect(tracker.participants["a"]?.windows == 2)
        #expect(tracker.participants["b"]?.failures == 5)
    }

    @Test("lost() is false for a slave that already finished, was already lost, or is not in the run")
    func lostOnlyWhileRunning() {
        var tracker = makeTracker()
        _ = tracker.stored(window("a", seq: 0, isFinal: true))
        let finishedWasRunning = tracker.lost("a")
        #expect(!finishedWasRunning)
        #expect(tracker.participants["a"]?.status == .finished)
        let firstLoss = tracker.lost("b")
        let secondLoss = tracker.lost("b")
        #expect(firstLoss)
        #expect(!secondLoss)
        let strangerWasRunning = tracker.lost("stranger")
        #expect(!strangerWasRunning)
        #expect(tracker.participants["stranger"] == nil)
        #expect(tracker.outcome == .partial)
    }

    @Test("a window of a slave that is not in the run changes nothing")
    func strangerIgnored() {
        var tracker = makeTracker()
        let before = tracker
        let outcome = tracker.stored(window("stranger", seq: 0, isFinal: true))
        #expect(outcome == nil)
        #expect(tracker == before)
    }

    @Test("a lost slave that delivers its final window after all counts as finished")
    func lostThenDelivered() {
        var tracker = makeTracker()
        _ = tracker.lost("a")
        _ = tracker.stored(window("b", seq: 0, isFinal: true))
        #expect(tracker.outcome == .partial)
        let outcome = tracker.stored(window("a", seq: 0, isFinal: true))
        #expect(outcome == .completed)
        #expect(tracker.participants["a"]?.status == .finished)
        #expect(tracker.participants["a"]?.requests == 10)
    }

    @Test("a lost slave that comes back is running again; returned() is false for one that was not lost")
    func returned() {
        var tracker = makeTracker()
        let notLost = tracker.returned("a")
        #expect(!notLost)
        _ = tracker.lost("a")
        let back = tracker.returned("a")
        #expect(back)
        #expect(tracker.participants["a"]?.status == .running)
        #expect(tracker.running == ["a", "b"])
        let stranger = tracker.returned("stranger")
        #expect(!stranger)
    }

    @Test("the kept counts of running and lost slaves always give the outcome a recount would")
    func countsMatchRecount() {
        var random = SplitMix64(seed: 3)
        for _ in 0..<300 {
            let names = (0..<Int(random.next() % 6 + 1)).map { "s\($0)" }
            var tracker = RunTracker(runId: 7, slaves: Dictionary(uniqueKeysWithValues: names.map { ($0, Self.plan) }))
            var stopped = false
            for step in 0..<40 {
                let name = names[Int(random.next() % UInt64(names.count))]
                switch random.next() % 5 {
                case 0: _ = tracker.stored(testWindow(runId: 7, slave: name, seq: UInt64(step), isFinal: true))
                case 1: _ = tracker.lost(name)
                case 2: _ = tracker.returned(name)
                case 3 where random.next() % 4 == 0:
                    tracker.stop()
                    stopped = true
                default: _ = tracker.stored(testWindow(runId: 7, slave: name, seq: UInt64(step)))
                }
                let statuses = tracker.participants.values.map(\.status)
                let recount: RunStatus? =
                    statuses.contains(.running) ? nil : stopped ? .aborted : statuses.contains(.lost) ? .partial : .completed
                #expect(tracker.outcome == recount, "\(tracker.participants)")
            }
        }
    }
}

@Suite("How far a run is")
struct RunProgressTests {
    static func progress(
        tasks: UInt64 = 0, taskRequests: UInt64 = 0, duration: Duration? = nil, elapsed: Duration = .zero, ended: RunStatus? = nil
    ) -> RunProgress {
        RunProgress(
            runId: 1, elapsed: elapsed, plannedTasks: tasks, plannedDuration: duration, requests: taskRequests + 500,
            failures: 0, recentRequests: 0, recentFailures: 0, recentSeconds: 0, recentP50: 0, recentP99: 0, running: 1, lost: 0,
            slaves: ["s1": .running], taskRequests: taskRequests, ended: ended)
    }

    @Test("by the task-bounded slaves' requests or by time, whichever is further; full only once completed")
    func fraction() {
        // Requests of duration-bounded slaves (the 500 above) do not count against the tasks.
        #expect(Self.progress(tasks: 1_000, taskRequests: 250).fraction == 0.25)
        #expect(Self.progress(tasks: 1_000, taskRequests: 250, duration: .seconds(10), elapsed: .seconds(5)).fraction == 0.5)
        #expect(Self.progress(duration: .seconds(10), elapsed: .seconds(30)).fraction == 1)
        #expect(Self.progress(tasks: 1_000, taskRequests: 100, ended: .aborted).fraction == 0.1)
        #expect(Self.progress(tasks: 1_000, taskRequests: 100, ended: .partial).fraction == 0.1)
        #expect(Self.progress(tasks: 1_000, taskRequests: 999, ended: .completed).fraction == 1)
        #expect(Self.progress().fraction == 0)
    }
}
