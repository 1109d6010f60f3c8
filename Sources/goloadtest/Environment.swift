import Configuration
import Foundation
import Store
import SystemPackage

/// Settings from the process environment, then from `.env` in the working directory; the
/// environment wins. Keys: GET_URL, GOLOADTEST_TOKEN, GOLOADTEST_DB.
struct Environment: Sendable {
    private let process: EnvironmentVariablesProvider
    private let file: EnvironmentVariablesProvider?

    static let dotEnvPath = ".env"

    /// Reads `.env` if there is one; a malformed file is an error that names it.
    static func load(path: String = dotEnvPath) async throws -> Environment {
        let process = EnvironmentVariablesProvider()
        guard FileManager.default.fileExists(atPath: path) else {
            return Environment(process: process, file: nil)
        }
        do {
            let file = try await EnvironmentVariablesProvider(environmentFilePath: FilePath(path), allowMissing: true)
            return Environment(process: process, file: file)
        } catch {
            throw EnvironmentError(message: "cannot read \(path): \(error); fix the file (lines of KEY=value) or remove it")
        }
    }

    /// The value of `name`, or nil if it is unset or empty.
    func value(_ name: String) -> String? {
        for provider in [process, file].compactMap({ $0 }) {
            if let value = try? provider.environmentValue(forName: name), !value.isEmpty {
                return value
            }
        }
        return nil
    }
}

extension Environment {
    /// The database: `--db`, else GOLOADTEST_DB, else `goloadtest.db` in the working directory.
    func database(_ given: String?) -> String {
        given ?? value("GOLOADTEST_DB") ?? "goloadtest.db"
    }

}

struct EnvironmentError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
