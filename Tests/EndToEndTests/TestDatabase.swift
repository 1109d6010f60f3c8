import Foundation
import Logging
import Store
import Testing

/// The two stores an end-to-end test can record into.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// An SQLite file in the test's folder.
    case file
    /// A throwaway PostgreSQL server the test starts (Debian's `postgresql`).
    case postgres

    var testDescription: String { rawValue }
}

/// Where a test's master records: `argument` is what `--db` gets.
final class TestDatabase: Sendable {
    let kind: StoreKind
    let argument: String
    let server: PostgresServer?

    init(_ kind: StoreKind, file: String = "runs.db") async throws {
        self.kind = kind
        switch kind {
        case .file:
            argument = file
            server = nil
        case .postgres:
            let server = try await PostgresServer()
            self.server = server
            argument = server.url
        }
    }

    /// The stored runs, read as `report` reads them. `folder`: where a file is.
    func history(in folder: borrowing TemporaryDirectory) async throws -> any RunHistory {
        switch kind {
        case .file:
            return try RunStore.openReadOnly(path: folder.path(argument))
        case .postgres:
            var logger = Logger(label: "test.postgres")
            logger.logLevel = .critical
            return try await PostgresHistory.connect(url: argument, migrate: false, logger: logger)
        }
    }

    /// Stored requests per slave of a run, and their seqs, read as `report` reads them.
    func stored(run: Int64, in folder: borrowing TemporaryDirectory) async throws -> (requests: [String: UInt64], seqs: [String: [UInt64]]) {
        let history = try await history(in: folder)
        defer { history.close() }
        var requests: [String: UInt64] = [:]
        var seqs: [String: [UInt64]] = [:]
        try history.forEachStoredWindow(ofRun: run) { window in
            requests[window.slave, default: 0] += window.requests
            seqs[window.slave, default: []].append(window.seq)
        }
        return (requests, seqs)
    }

    /// A file holding the database's runs, to read with `RunStore` (every column of every
    /// window): the file itself, or a copy of PostgreSQL made by `goloadtest migrate`.
    func file(in folder: borrowing TemporaryDirectory) async throws -> String {
        guard kind == .postgres else { return folder.path(argument) }
        let copy = folder.path("copy-\(UUID().uuidString).db")
        let migrated = try await ChildProcess.run(["migrate", "--from", argument, "--to", copy], in: folder.url)
        try #require(migrated.status == 0, "migrate: \(migrated.stderr)")
        return copy
    }

    /// Stops the server, if any, and removes its folder.
    func remove() {
        server?.removeNow()
    }
}

extension RunHistory {
    func storedRun(_ runId: Int64) throws -> RunRecord {
        try readRun(runId, slaves: false) { run, _, _ in run }
    }

    func storedSlaves(_ runId: Int64) throws -> [RunSlaveRecord] {
        try readRun(runId) { _, slaves, _ in slaves }
    }

    /// Every stored window of the run, by slave then seq.
    func forEachStoredWindow(ofRun runId: Int64, _ body: (StoredWindow) throws -> Void) throws {
        try readRun(runId, slaves: false) { _, _, windows in try windows.forEach(order: .slave, slave: nil, name: nil, body) }
    }
}
