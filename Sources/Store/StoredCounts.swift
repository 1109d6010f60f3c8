import Foundation
import SwiftProtobuf

/// The `statusCodes` and `errors` columns of the windows and rollups: the bytes of
/// `StoredStatusCounts` and `StoredErrorCounts` (Protos/store/counts.proto, generated code),
/// map entries in key order so that the same counts are always the same bytes; NULL when there
/// are none (most windows have no errors). A file from before migration v8, or a PostgreSQL
/// database from before pg-v2, holds JSON text there (`{"200":981}`): `report` and `runs` read
/// it with Foundation's decoder (they never write); the first writer migrates it.
enum StoredCounts {
    private static let options = {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return options
    }()

    /// What a row stores: NULL for no counts.
    static func cell(statusCodes: [Int: UInt64]) -> CellValue {
        statusCodes.isEmpty ? .null : .blob(encode(statusCodes: statusCodes))
    }

    static func cell(errors: [String: UInt64]) -> CellValue {
        errors.isEmpty ? .null : .blob(encode(errors: errors))
    }

    static func encode(statusCodes: [Int: UInt64]) -> Data {
        var message = StoredStatusCounts()
        message.counts = Dictionary(
            statusCodes.map { (UInt32(clamping: $0.key), $0.value) }, uniquingKeysWith: { $0.saturatingAdd($1) })
        return encode(message)
    }

    static func encode(errors: [String: UInt64]) -> Data {
        var message = StoredErrorCounts()
        message.counts = errors
        return encode(message)
    }

    /// Encoding fails only for a message with required fields or an `Any`; these have neither.
    private static func encode(_ message: some SwiftProtobuf.Message) -> Data {
        (try? message.serializedBytes(options: options)) ?? Data()
    }

    /// A stored `statusCodes` value; `column` names it in the error.
    static func statusCodes(_ value: Value, column: String) throws(StoreError) -> [Int: UInt64] {
        switch value {
        case .none:
            return [:]
        case .bytes(let bytes):
            guard let message = try? StoredStatusCounts(serializedBytes: bytes) else {
                throw .unreadableValue(column: column, value: "\(bytes.count) bytes")
            }
            var codes = [Int: UInt64](minimumCapacity: message.counts.count)
            for (code, count) in message.counts { codes[Int(code)] = count }
            return codes
        case .json(let text):
            var codes: [Int: UInt64] = [:]
            for (key, count) in try json(text, column: column) {
                guard let code = Int(key), (0...Int(UInt32.max)).contains(code) else {
                    throw .unreadableValue(column: column, value: text)
                }
                codes[code, default: 0] = codes[code, default: 0].saturatingAdd(count)
            }
            return codes
        }
    }

    /// A stored `errors` value; `column` names it in the error.
    static func errors(_ value: Value, column: String) throws(StoreError) -> [String: UInt64] {
        switch value {
        case .none:
            return [:]
        case .bytes(let bytes):
            guard let message = try? StoredErrorCounts(serializedBytes: bytes) else {
                throw .unreadableValue(column: column, value: "\(bytes.count) bytes")
            }
            return message.counts
        case .json(let text):
            return try json(text, column: column)
        }
    }

    /// What such a column holds: NULL, the bytes of the message, or the JSON text of older
    /// schemas.
    enum Value {
        case none
        case bytes(Data)
        case json(String)
    }

    private static func json(_ text: String, column: String) throws(StoreError) -> [String: UInt64] {
        guard let counts = try? JSONDecoder().decode([String: UInt64].self, from: Data(text.utf8)) else {
            throw .unreadableValue(column: column, value: text)
        }
        return counts
    }

    /// The JSON text of older schemas as today's value, for migrations and copies from an older
    /// history; `column` names the column and row in the error.
    static func migrated(statusCodes text: String, column: String) throws(StoreError) -> CellValue {
        cell(statusCodes: try statusCodes(.json(text), column: column))
    }

    static func migrated(errors text: String, column: String) throws(StoreError) -> CellValue {
        cell(errors: try errors(.json(text), column: column))
    }
}
