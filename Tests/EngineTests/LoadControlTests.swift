import NIOCore
import Testing

@testable import Engine

@Suite("Claims of a run's requests")
struct LoadControlTests {
    @Test("a request handed back by a closing connection is the next claim, with its number and intended time")
    func handBack() throws {
        let control = LoadControl(tasks: 5, rate: 100)
        let first = try #require(control.take())
        let second = try #require(control.take())
        let third = try #require(control.take())
        #expect([first.number, second.number, third.number] == [0, 1, 2])
        control.handBack(second)
        #expect(control.issued == 2, "a handed-back request is not counted as sent")
        let again = try #require(control.take())
        #expect(again == second, "the same request: its place in the mix and its intended time")
        #expect(control.issued == 3)
        #expect(control.take()?.number == 3)
        #expect(control.take()?.number == 4)
        #expect(control.take() == nil, "five in all")
        // One handed back after the others are gone is still taken: the run sends all five.
        control.handBack(third)
        #expect(control.take() == third)
        #expect(control.take() == nil)
        #expect(control.issued == 5)
    }

    @Test("a stopped run takes nothing, handed back or not, and does not count it as sent")
    func stopped() throws {
        let control = LoadControl(tasks: 10)
        let ticket = try #require(control.take())
        control.handBack(ticket)
        control.stop()
        #expect(control.take() == nil)
        #expect(control.issued == 0)
    }
}
