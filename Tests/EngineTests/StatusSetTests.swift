import Engine
import Testing

@Suite("--expect-status: the statuses that count as successes")
struct StatusSetTests {
    @Test("codes and ranges, read back as written")
    func parses() throws {
        let set = try StatusSet(parsing: "200-299, 304,404")
        #expect(set.description == "200-299,304,404")
        #expect(try StatusSet(parsing: set.description) == set)
        for status in [200, 250, 299, 304, 404] { #expect(set.contains(status), "\(status)") }
        for status in [199, 300, 303, 305, 403, 500] { #expect(!set.contains(status), "\(status)") }
        #expect(StatusSet.successes.contains(200) && StatusSet.successes.contains(399) && !StatusSet.successes.contains(400))
    }

    @Test(
        "what cannot be read is refused, saying what is wrong",
        arguments: [
            ("", "is empty"), ("2xx", "not a code or a range"), ("200-", "not a code or a range"), ("-200", "not a code or a range"),
            ("200-300-400", "not a code or a range"), ("99", "from 100 to 599"), ("600", "from 100 to 599"),
            ("299-200", "the lower first"), ("200,,300", "not a code or a range"),
            (Array(repeating: "200", count: 101).joined(separator: ","), "more than 100 parts"),
        ])
    func refused(text: String, message: String) {
        do {
            _ = try StatusSet(parsing: text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }
}
