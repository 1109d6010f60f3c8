import Foundation
import Store

/// A file of requests in vegeta's format, each optionally named and weighted:
///
///     # name: login
///     # weight: 2
///     POST http://127.0.0.1:8080/login
///     Content-Type: application/json
///     @login.json
///
///     GET http://127.0.0.1:8080/items
///
/// A request line (`METHOD URL`), then its headers (`Name: value`), then optionally `@FILE`,
/// whose bytes are the body (a relative path is from the targets file's directory); a blank
/// line between requests. `# name: NAME` and `# weight: N` before a request line name it (by
/// default its method and path) and weight it (by default 1), and end the request before them;
/// other `#` lines are comments.
public enum TargetsFile {
    /// The largest targets file, and the most request body bytes in all: the plan travels in
    /// one message (a slave's own to its master, which takes up to 1 MiB).
    public static let maximumFileBytes = 512 << 10
    public static let maximumBodyBytes = 384 << 10

    /// Reads and checks the file at `path`; every error names the line and says what to write.
    public static func load(_ path: String) throws(EngineError) -> [PlannedRequest] {
        guard let data = read(path, limit: maximumFileBytes) else {
            throw EngineError(.invalidURL, "cannot read --targets \(path): check the path and permissions")
        }
        guard data.count <= maximumFileBytes else {
            throw EngineError(.invalidURL, "--targets \(path) is more than \(maximumFileBytes) bytes; a targets file has at most that")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw EngineError(.invalidURL, "--targets \(path) is not UTF-8 text")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        return try parse(text, file: path) { (body: String) throws(EngineError) -> [UInt8] in
            let resolved = body.hasPrefix("/") ? body : directory.appendingPathComponent(body).path
            guard let bytes = read(resolved, limit: maximumBodyBytes) else {
                throw EngineError(.invalidURL, "cannot read the body file \(resolved): check the path (relative paths are from the targets file's directory)")
            }
            return Array(bytes)
        }
    }

    /// At most `limit` + 1 bytes of the file at `path` (more means too large), or nil if it cannot
    /// be read: a device that never ends is not read to its end.
    static func read(_ path: String, limit: Int) -> Data? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let handle = FileHandle(forReadingAtPath: path)
        else { return nil }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: limit + 1)) ?? Data()
    }

    /// Parses `text`, reading `@` body files with `readBody`; `file` is how messages name it.
    public static func parse(
        _ text: String, file: String, readBody: (String) throws(EngineError) -> [UInt8]
    ) throws(EngineError) -> [PlannedRequest] {
        var requests: [PlannedRequest] = []
        var lines: [Int] = []
        var name: (String, line: Int)?
        var weight: (UInt32, line: Int)?
        /// The request being read, and whether its body came (nothing may follow it).
        var current: PlannedRequest?
        var hasBody = false
        var bodyBytes = 0

        func problem(_ line: Int, _ why: String) -> EngineError {
            EngineError(.invalidURL, "\(file):\(line): \(why)")
        }
        func finish() {
            if let request = current { requests.append(request) }
            current = nil
            hasBody = false
        }

        var number = 0
        // A byte-order mark is not part of the first line; "\r\n" is one Character: isNewline
        // splits at it, at "\n" and at a lone "\r".
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty {
                finish()
                continue
            }
            if trimmed.hasPrefix("#") {
                let comment = trimmed.dropFirst().trimmingCharacters(in: .whitespaces)
                guard let colon = comment.firstIndex(of: ":") else { continue }
                let key = comment[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                let value = comment[comment.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                guard key == "name" || key == "weight" else { continue }
                // It belongs to the request after it: the one before ends here.
                finish()
                if key == "name" {
                    if let earlier = name {
                        throw problem(number, "a second '# name:' for one request (the first is on line \(earlier.line))")
                    }
                    if let why = Names.problem(value, what: "request name", maximumBytes: PlannedRequest.maximumNameBytes) {
                        throw problem(number, why)
                    }
                    name = (value, number)
                } else {
                    if let earlier = weight {
                        throw problem(number, "a second '# weight:' for one request (the first is on line \(earlier.line))")
                    }
                    guard let parsed = UInt32(value), (1...PlannedRequest.maximumWeight).contains(parsed) else {
                        throw problem(number, "weight \"\(value)\" is not a whole number from 1 to \(PlannedRequest.maximumWeight)")
                    }
                    weight = (parsed, number)
                }
                continue
            }
            let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let looksLikeRequest = fields.count >= 2 && fields[0].allSatisfy { $0.isASCII && $0.isLetter }
                && (fields[1].lowercased().hasPrefix("http://") || fields[1].lowercased().hasPrefix("https://"))
            if looksLikeRequest {
                guard fields.count == 2 else {
                    throw problem(number, "a request line is METHOD URL, nothing after the URL (got \"\(Names.quoted(String(trimmed), limit: 80))\")")
                }
                finish()
                guard requests.count < PlannedRequest.maximumRequests else {
                    throw problem(number, "more than \(PlannedRequest.maximumRequests) requests; a targets file has at most that many")
                }
                let method = fields[0].uppercased()
                let url = String(fields[1])
                let target: LoadTarget
                do throws(EngineError) {
                    target = try LoadTarget(url: url, method: method, source: "the URL")
                } catch {
                    throw problem(number, error.message)
                }
                let path = target.requestTarget.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/"
                current = PlannedRequest(
                    name: name?.0 ?? Names.quoted("\(method) \(path)", limit: 150),
                    weight: weight?.0 ?? 1, method: method, url: url)
                lines.append(number)
                name = nil
                weight = nil
                continue
            }
            guard current != nil else {
                throw problem(
                    number,
                    "\"\(Names.quoted(String(trimmed)))\" is not a request line; write METHOD URL, e.g. GET http://127.0.0.1:8080/items")
            }
            if trimmed.hasPrefix("@") {
                if hasBody { throw problem(number, "a second body for one request") }
                let path = String(trimmed.dropFirst())
                guard !path.isEmpty else { throw problem(number, "'@' needs a file name: @body.json") }
                let body: [UInt8]
                do throws(EngineError) {
                    body = try readBody(path)
                } catch {
                    throw problem(number, error.message)
                }
                bodyBytes += body.count
                guard bodyBytes <= maximumBodyBytes else {
                    throw problem(number, "the request bodies add up to more than \(maximumBodyBytes) bytes")
                }
                current?.body = body
                hasBody = true
                continue
            }
            if hasBody {
                throw problem(number, "\"\(Names.quoted(String(trimmed)))\" follows the body; headers go before '@FILE', and a blank line before the next request")
            }
            guard let colon = trimmed.firstIndex(of: ":"), colon != trimmed.startIndex else {
                throw problem(
                    number, "\"\(Names.quoted(String(trimmed)))\" is neither a header 'Name: value' nor '@BODY_FILE'; put a blank line between requests")
            }
            let name = trimmed[..<colon].trimmingCharacters(in: .whitespaces)
            guard LoadTarget.isFieldName(name) else {
                throw problem(
                    number, "header \"\(Names.quoted(String(trimmed)))\" has a name that is not a token (letters, digits and !#$%&'*+-.^_`|~)")
            }
            current?.headers.append(trimmed)
        }
        finish()
        if let line = name?.line ?? weight?.line {
            throw problem(line, "'# name:' or '# weight:' with no request after it")
        }
        guard !requests.isEmpty else {
            throw EngineError(.invalidURL, "\(file) holds no request; write one per block, e.g. GET http://127.0.0.1:8080/")
        }
        // Headers, the one origin, the names and the weights in all, each error on its line.
        do throws(EngineError) {
            _ = try RequestMix(requests) { "\(file):\(lines[$0])" }
        } catch {
            throw EngineError(error.code, error.message.hasPrefix(file) ? error.message : "\(file): \(error.message)")
        }
        return requests
    }
}
