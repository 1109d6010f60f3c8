import Foundation
@testable import Store
import Testing

/// Status codes and failure kinds as the store keeps them: the bytes of counts.proto's messages,
/// the same counts always the same bytes, and the JSON text of older files read as it was.
@Suite("Stored counts")
struct StoredCountsTests {
    @Test("the bytes are counts.proto's, entries in key order whatever the order they were counted in")
    func bytes() throws {
        // StatusCounts {counts: {200: 981, 503: 2}}: field 1 entries of (1: key, 2: value), varints.
        let expected = Data([0x0A, 0x06, 0x08, 0xC8, 0x01, 0x10, 0xD5, 0x07, 0x0A, 0x05, 0x08, 0xF7, 0x03, 0x10, 0x02])
        var codes: [Int: UInt64] = [:]
        codes[503] = 2
        codes[200] = 981
        #expect(StoredCounts.encode(statusCodes: codes) == expected)
        #expect(StoredCounts.cell(statusCodes: [200: 981, 503: 2]) == .blob(expected))
        // ErrorCounts {counts: {"timeout": 3}}.
        #expect(StoredCounts.encode(errors: ["timeout": 3]) == Data([0x0A, 0x0B, 0x0A, 0x07] + Array("timeout".utf8) + [0x10, 0x03]))
        #expect(StoredCounts.cell(statusCodes: [:]) == .null)
        #expect(StoredCounts.cell(errors: [:]) == .null)
    }

    @Test("what is written reads back: zero counts, the largest count, many kinds, names with any bytes")
    func roundTrip() throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let codes = Dictionary(
                uniqueKeysWithValues: (0..<Int.random(in: 1...40, using: &random)).map { _ in
                    (Int.random(in: 100...599, using: &random), UInt64.random(in: 0...UInt64.max, using: &random))
                }.uniqued())
            let errors = Dictionary(
                uniqueKeysWithValues: (0..<Int.random(in: 1...8, using: &random)).map { index in
                    ("kind \(index) ✓\u{0}\"", [0, 1, UInt64.max][index % 3])
                })
            #expect(try StoredCounts.statusCodes(.bytes(StoredCounts.encode(statusCodes: codes)), column: "c") == codes)
            #expect(try StoredCounts.errors(.bytes(StoredCounts.encode(errors: errors)), column: "e") == errors)
        }
        #expect(try StoredCounts.statusCodes(.none, column: "c") == [:])
        #expect(try StoredCounts.errors(.bytes(Data()), column: "e") == [:])
    }

    @Test("an older file's JSON text reads as it was written")
    func olderJSON() throws {
        #expect(try StoredCounts.statusCodes(.json(#"{"200":981,"503":2}"#), column: "c") == [200: 981, 503: 2])
        #expect(try StoredCounts.statusCodes(.json("{ }"), column: "c") == [:])
        #expect(try StoredCounts.errors(.json(#"{"timeout":18446744073709551615}"#), column: "e") == ["timeout": .max])
        #expect(
            try StoredCounts.migrated(statusCodes: #"{"503":2,"200":981}"#, column: "c")
                == .blob(StoredCounts.encode(statusCodes: [200: 981, 503: 2])))
        #expect(try StoredCounts.migrated(errors: "{}", column: "e") == .null)
    }

    @Test(
        "values that are not counts say which column holds what",
        arguments: [
            (StoredCounts.Value.bytes(Data([0x0A, 0x05, 0xFF])), "cut short"),
            (.bytes(Data([0x0A])), "a tag alone"),
            (.bytes(Data([0x0A, 0x02, 0x08, 0xFF])), "a varint cut short"),
            (.json("not json"), "not JSON"),
            (.json(#"{"abc":1}"#), "a code that is not a number"),
            (.json(#"{"-200":1}"#), "a negative code"),
            (.json(#"{"99999999999":1}"#), "a code past UInt32"),
            (.json(#"{"200":-1}"#), "a negative count"),
            (.json(#"{"200":1.5}"#), "a fraction"),
            (.json("[1]"), "an array"),
        ])
    func refused(value: StoredCounts.Value, what: String) {
        #expect(throws: StoreError.self, "\(what)") {
            try StoredCounts.statusCodes(value, column: "summary.statusCodes")
        }
        do {
            _ = try StoredCounts.statusCodes(value, column: "summary.statusCodes")
        } catch {
            #expect("\(error)".contains("summary.statusCodes"), "\(what): \(error)")
        }
    }
}

extension Array where Element == (Int, UInt64) {
    /// The first pair of each key.
    func uniqued() -> [(Int, UInt64)] {
        var seen: Set<Int> = []
        return filter { seen.insert($0.0).inserted }
    }
}
