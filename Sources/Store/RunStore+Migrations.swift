import GRDB

/// Schema migrations. Shipped migrations are frozen: never edit one, add a new one.
enum Migrations {
    static let first = "v1-run-runSlave-summary"
    static let receivedDroppedFailures = "v2-summary-receivedAt-dropped-failureHistogram"
    static let connectionsAndTLS = "v3-summary-connections-handshakeHistogram-runSlave-protocol-insecure"
    static let masterPlan = "v4-master-plan-thresholds-statuses-stages"
    static let requestNames = "v5-summaryByName-runSlave-requests"
    static let rollups = "v6-rollup-rollupSecond-run-rollups"
    static let rowidWindows = "v7-summary-summaryByName-rowid-tables"
    static let countsAsBytes = "v8-statusCodes-errors-protobuf-bytes"
    static let all: Set<String> = [
        first, receivedDroppedFailures, connectionsAndTLS, masterPlan, requestNames, rollups, rowidWindows, countsAsBytes,
    ]
}

extension RunStore {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(Migrations.first) { db in
            try db.execute(
                sql: """
                    CREATE TABLE run (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        master TEXT NOT NULL,
                        status TEXT NOT NULL
                            CHECK (status IN ('running', 'completed', 'partial', 'aborted')),
                        startedAt INTEGER NOT NULL,
                        finishedAt INTEGER
                    );
                    CREATE TABLE runSlave (
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        slave TEXT NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'lost')),
                        tasks INTEGER CHECK (tasks > 0),
                        durationNs INTEGER CHECK (durationNs > 0),
                        rate REAL CHECK (rate > 0),
                        batch INTEGER NOT NULL CHECK (batch > 0),
                        method TEXT NOT NULL DEFAULT 'GET',
                        url TEXT NOT NULL,
                        timeoutNs INTEGER CHECK (timeoutNs > 0),
                        joinedAt INTEGER NOT NULL,
                        finishedAt INTEGER,
                        lostAt INTEGER,
                        reportedRequests INTEGER,
                        PRIMARY KEY (runId, slave),
                        CHECK (tasks IS NOT NULL OR durationNs IS NOT NULL)
                    ) WITHOUT ROWID;
                    CREATE TABLE summary (
                        runId INTEGER NOT NULL,
                        slave TEXT NOT NULL,
                        seq INTEGER NOT NULL CHECK (seq >= 0),
                        startedAt INTEGER NOT NULL,
                        endedAt INTEGER NOT NULL,
                        requests INTEGER NOT NULL CHECK (requests >= 0),
                        successes INTEGER NOT NULL CHECK (successes >= 0),
                        failures INTEGER NOT NULL CHECK (failures >= 0),
                        bytesReceived INTEGER NOT NULL,
                        bytesSent INTEGER NOT NULL,
                        statusCodes TEXT NOT NULL,
                        errors TEXT NOT NULL,
                        histogram BLOB NOT NULL,
                        uncorrectedHistogram BLOB,
                        late INTEGER NOT NULL DEFAULT 0 CHECK (late >= 0),
                        isFinal INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (runId, slave, seq),
                        FOREIGN KEY (runId, slave) REFERENCES runSlave(runId, slave) ON DELETE CASCADE,
                        CHECK (successes + failures = requests)
                    ) WITHOUT ROWID;
                    CREATE INDEX summaryByTime ON summary(runId, startedAt);
                    """)
        }
        migrator.registerMigration(Migrations.receivedDroppedFailures) { db in
            try db.execute(
                sql: """
                    ALTER TABLE summary ADD COLUMN receivedAt INTEGER;
                    ALTER TABLE summary ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0 CHECK (dropped >= 0);
                    ALTER TABLE summary ADD COLUMN failureHistogram BLOB;
                    """)
        }
        migrator.registerMigration(Migrations.connectionsAndTLS) { db in
            try db.execute(
                sql: """
                    ALTER TABLE summary ADD COLUMN connections INTEGER NOT NULL DEFAULT 0 CHECK (connections >= 0);
                    ALTER TABLE summary ADD COLUMN handshakeHistogram BLOB;
                    ALTER TABLE runSlave ADD COLUMN protocol TEXT NOT NULL DEFAULT 'http/1.1'
                        CHECK (protocol IN ('http/1.1', 'h2'));
                    ALTER TABLE runSlave ADD COLUMN connections INTEGER CHECK (connections > 0);
                    ALTER TABLE runSlave ADD COLUMN insecure INTEGER NOT NULL DEFAULT 0;
                    """)
        }
        migrator.registerMigration(Migrations.masterPlan) { db in
            // run.plan: the master's plan (JSON, `StoredPlan`) when it owned the run's plan;
            // NULL when each slave brought its own. run.thresholds: the run's thresholds (a JSON
            // array of their texts). run.endReason: why a run ended early (a breached
            // threshold). runSlave.expectStatus: the statuses that count as successes, as given
            // ("200-299,304"); NULL for the default (2xx and 3xx). runSlave.stages: the rate's
            // ramp, a JSON array of {durationNs, target}; NULL without one.
            // runSlave.connectionStages: the same for the connections in use.
            try db.execute(
                sql: """
                    ALTER TABLE run ADD COLUMN plan TEXT;
                    ALTER TABLE run ADD COLUMN thresholds TEXT;
                    ALTER TABLE run ADD COLUMN endReason TEXT;
                    ALTER TABLE runSlave ADD COLUMN expectStatus TEXT;
                    ALTER TABLE runSlave ADD COLUMN stages TEXT;
                    ALTER TABLE runSlave ADD COLUMN connectionStages TEXT;
                    """)
        }
        migrator.registerMigration(Migrations.requestNames) { db in
            // summaryByName: a window's counts for one request name of a plan with named
            // requests (a targets file), a part of its summary row. Keyed by run and name first,
            // so that one name's rows are read in order of slave and seq; indexed by window too,
            // for its foreign key and for reading a window's names.
            // runSlave.requests: the plan's requests, a JSON array of {name, weight, method,
            // url}; NULL for a plan of one request.
            try db.execute(
                sql: """
                    CREATE TABLE summaryByName (
                        runId INTEGER NOT NULL,
                        slave TEXT NOT NULL,
                        seq INTEGER NOT NULL CHECK (seq >= 0),
                        name TEXT NOT NULL,
                        requests INTEGER NOT NULL CHECK (requests >= 0),
                        successes INTEGER NOT NULL CHECK (successes >= 0),
                        failures INTEGER NOT NULL CHECK (failures >= 0),
                        bytesReceived INTEGER NOT NULL,
                        bytesSent INTEGER NOT NULL,
                        statusCodes TEXT NOT NULL,
                        errors TEXT NOT NULL,
                        histogram BLOB NOT NULL,
                        PRIMARY KEY (runId, name, slave, seq),
                        FOREIGN KEY (runId, slave, seq) REFERENCES summary(runId, slave, seq) ON DELETE CASCADE,
                        CHECK (successes + failures = requests)
                    ) WITHOUT ROWID;
                    CREATE INDEX summaryByNameWindow ON summaryByName(runId, slave, seq);
                    ALTER TABLE runSlave ADD COLUMN requests TEXT;
                    """)
        }
        migrator.registerMigration(Migrations.rollups) { db in
            // Rollups of closed runs (see RunStore+Rollups.swift); counts are stored as the bits
            // of their UInt64. A window written, changed or removed after its run was rolled up
            // drops the run's rollups (its reports then read the windows until a writer opens
            // the file and writes them again).
            try db.execute(
                sql: """
                    ALTER TABLE run ADD COLUMN rollups INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE rollup (
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        slave TEXT NOT NULL,
                        windows INTEGER NOT NULL,
                        firstStart INTEGER,
                        lastEnd INTEGER,
                        requests INTEGER NOT NULL,
                        successes INTEGER NOT NULL,
                        failures INTEGER NOT NULL,
                        bytesReceived INTEGER NOT NULL,
                        bytesSent INTEGER NOT NULL,
                        late INTEGER NOT NULL,
                        dropped INTEGER NOT NULL,
                        connections INTEGER NOT NULL,
                        statusCodes TEXT NOT NULL,
                        errors TEXT NOT NULL,
                        histogram BLOB NOT NULL,
                        uncorrectedHistogram BLOB,
                        failureHistogram BLOB,
                        handshakeHistogram BLOB,
                        PRIMARY KEY (runId, name, slave)
                    ) WITHOUT ROWID;
                    CREATE TABLE rollupSecond (
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        second INTEGER NOT NULL,
                        windows INTEGER NOT NULL,
                        firstStart INTEGER NOT NULL,
                        lastStart INTEGER NOT NULL,
                        lastEnd INTEGER NOT NULL,
                        requests INTEGER NOT NULL,
                        failures INTEGER NOT NULL,
                        statusCodes TEXT NOT NULL,
                        errors TEXT NOT NULL,
                        histogram BLOB NOT NULL,
                        PRIMARY KEY (runId, second)
                    ) WITHOUT ROWID;
                    """)
            for (trigger, table, event, row) in [
                ("summaryInsertDropsRollups", "summary", "INSERT", "NEW"), ("summaryUpdateDropsRollups", "summary", "UPDATE", "OLD"),
                ("summaryDeleteDropsRollups", "summary", "DELETE", "OLD"),
                ("summaryByNameInsertDropsRollups", "summaryByName", "INSERT", "NEW"),
                ("summaryByNameUpdateDropsRollups", "summaryByName", "UPDATE", "OLD"),
                ("summaryByNameDeleteDropsRollups", "summaryByName", "DELETE", "OLD"),
            ] {
                try db.execute(
                    sql: """
                        CREATE TRIGGER \(trigger) AFTER \(event) ON \(table)
                        WHEN (SELECT rollups FROM run WHERE id = \(row).runId) != 0
                        BEGIN
                            UPDATE run SET rollups = 0 WHERE id = \(row).runId;
                            DELETE FROM rollup WHERE runId = \(row).runId;
                            DELETE FROM rollupSecond WHERE runId = \(row).runId;
                        END;
                        """)
            }
        }
        migrator.registerMigration(Migrations.rowidWindows) { db in
            // The windows' tables become rowid tables, their keys unique constraints. Windows
            // arrive interleaved across slaves: in a table ordered by (runId, slave, seq), each
            // row of about a kilobyte went into another page, split it, and left the file three
            // times the size of its rows; a rowid table appends them in the order they come.
            // Their indexes and the rollup triggers are made again as they were.
            let kept = try String.fetchAll(
                db,
                sql: """
                    SELECT sql FROM sqlite_master
                    WHERE tbl_name IN ('summary', 'summaryByName') AND type IN ('index', 'trigger') AND sql IS NOT NULL
                    ORDER BY type, name
                    """)
            let summary = """
                runId, slave, seq, startedAt, endedAt, requests, successes, failures, bytesReceived, bytesSent,
                statusCodes, errors, histogram, uncorrectedHistogram, late, isFinal, receivedAt, dropped,
                failureHistogram, connections, handshakeHistogram
                """
            let byName = """
                runId, slave, seq, name, requests, successes, failures, bytesReceived, bytesSent, statusCodes,
                errors, histogram
                """
            try db.execute(
                sql: """
                    CREATE TABLE summaryRowid (
                        runId INTEGER NOT NULL,
                        slave TEXT NOT NULL,
                        seq INTEGER NOT NULL CHECK (seq >= 0),
                        startedAt INTEGER NOT NULL,
                        endedAt INTEGER NOT NULL,
                        requests INTEGER NOT NULL CHECK (requests >= 0),
                        successes INTEGER NOT NULL CHECK (successes >= 0),
                        failures INTEGER NOT NULL CHECK (failures >= 0),
                        bytesReceived INTEGER NOT NULL,
                        bytesSent INTEGER NOT NULL,
                        statusCodes TEXT NOT NULL,
                        errors TEXT NOT NULL,
                        histogram BLOB NOT NULL,
                        uncorrectedHistogram BLOB,
                        late INTEGER NOT NULL DEFAULT 0 CHECK (late >= 0),
                        isFinal INTEGER NOT NULL DEFAULT 0,
                        receivedAt INTEGER,
                        dropped INTEGER NOT NULL DEFAULT 0 CHECK (dropped >= 0),
                        failureHistogram BLOB,
                        connections INTEGER NOT NULL DEFAULT 0 CHECK (connections >= 0),
                        handshakeHistogram BLOB,
                        UNIQUE (runId, slave, seq),
                        FOREIGN KEY (runId, slave) REFERENCES runSlave(runId, slave) ON DELETE CASCADE,
                        CHECK (successes + failures = requests)
                    );
                    INSERT INTO summaryRowid (\(summary))
                        SELECT \(summary) FROM summary ORDER BY runId, startedAt, slave, seq;
                    CREATE TABLE summaryByNameRowid (
                        runId INTEGER NOT NULL,
                        slave TEXT NOT NULL,
                        seq INTEGER NOT NULL CHECK (seq >= 0),
                        name TEXT NOT NULL,
                        requests INTEGER NOT NULL CHECK (requests >= 0),
                        successes INTEGER NOT NULL CHECK (successes >= 0),
                        failures INTEGER NOT NULL CHECK (failures >= 0),
                        bytesReceived INTEGER NOT NULL,
                        bytesSent INTEGER NOT NULL,
                        statusCodes TEXT NOT NULL,
                        errors TEXT NOT NULL,
                        histogram BLOB NOT NULL,
                        UNIQUE (runId, name, slave, seq),
                        FOREIGN KEY (runId, slave, seq) REFERENCES summary(runId, slave, seq) ON DELETE CASCADE,
                        CHECK (successes + failures = requests)
                    );
                    INSERT INTO summaryByNameRowid (\(byName))
                        SELECT \(byName) FROM summaryByName ORDER BY runId, slave, seq, name;
                    DROP TABLE summaryByName;
                    DROP TABLE summary;
                    ALTER TABLE summaryRowid RENAME TO summary;
                    ALTER TABLE summaryByNameRowid RENAME TO summaryByName;
                    """)
            for sql in kept { try db.execute(sql: sql) }
        }
        migrator.registerMigration(Migrations.countsAsBytes) { db in
            // The status codes and failure kinds of windows and rollups are stored as the bytes
            // of their protobuf messages (StoredCounts), NULL when there are none, instead of JSON
            // text: reports read them without parsing text. Each table is made again with BLOB
            // columns and its rows copied in their order through two functions that read the
            // JSON; a value that is not a JSON object of counts refuses the migration (nothing
            // changes) and names its row. Indexes and triggers are made again as they were.
            let kept = try String.fetchAll(
                db,
                sql: """
                    SELECT sql FROM sqlite_master
                    WHERE tbl_name IN ('summary', 'summaryByName', 'rollup', 'rollupSecond')
                        AND type IN ('index', 'trigger') AND sql IS NOT NULL
                    ORDER BY type, name
                    """)
            func converter(_ name: String, _ convert: @escaping @Sendable (String, String) throws(StoreError) -> CellValue) -> DatabaseFunction {
                DatabaseFunction(name, argumentCount: 2, pure: true) { values in
                    let row = String.fromDatabaseValue(values[1]) ?? "?"
                    guard case .string(let text) = values[0].storage else {
                        throw StoreError.unreadableValue(column: row, value: String(values[0].description.prefix(40)))
                    }
                    return try convert(text, row).databaseValue
                }
            }
            let statusCodes = converter("goloadtest_v8_status_codes") { text, row throws(StoreError) in
                try StoredCounts.migrated(statusCodes: text, column: row)
            }
            let errors = converter("goloadtest_v8_errors") { text, row throws(StoreError) in
                try StoredCounts.migrated(errors: text, column: row)
            }
            db.add(function: statusCodes)
            db.add(function: errors)
            defer {
                db.remove(function: statusCodes)
                db.remove(function: errors)
            }
            // Each table's columns, its key (a row named in an error) and its order.
            let tables: [(name: String, columns: [String], key: [String], order: String, create: String)] = [
                (
                    "summary",
                    [
                        "runId", "slave", "seq", "startedAt", "endedAt", "requests", "successes", "failures",
                        "bytesReceived", "bytesSent", "statusCodes", "errors", "histogram", "uncorrectedHistogram",
                        "late", "isFinal", "receivedAt", "dropped", "failureHistogram", "connections",
                        "handshakeHistogram",
                    ],
                    ["runId", "slave", "seq"], "rowid",
                    """
                    CREATE TABLE summaryBytes (
                        runId INTEGER NOT NULL,
                        slave TEXT NOT NULL,
                        seq INTEGER NOT NULL CHECK (seq >= 0),
                        startedAt INTEGER NOT NULL,
                        endedAt INTEGER NOT NULL,
                        requests INTEGER NOT NULL CHECK (requests >= 0),
                        successes INTEGER NOT NULL CHECK (successes >= 0),
                        failures INTEGER NOT NULL CHECK (failures >= 0),
                        bytesReceived INTEGER NOT NULL,
                        bytesSent INTEGER NOT NULL,
                        statusCodes BLOB,
                        errors BLOB,
                        histogram BLOB NOT NULL,
                        uncorrectedHistogram BLOB,
                        late INTEGER NOT NULL DEFAULT 0 CHECK (late >= 0),
                        isFinal INTEGER NOT NULL DEFAULT 0,
                        receivedAt INTEGER,
                        dropped INTEGER NOT NULL DEFAULT 0 CHECK (dropped >= 0),
                        failureHistogram BLOB,
                        connections INTEGER NOT NULL DEFAULT 0 CHECK (connections >= 0),
                        handshakeHistogram BLOB,
                        UNIQUE (runId, slave, seq),
                        FOREIGN KEY (runId, slave) REFERENCES runSlave(runId, slave) ON DELETE CASCADE,
                        CHECK (successes + failures = requests)
                    )
                    """
                ),
                (
                    "summaryByName",
                    [
                        "runId", "slave", "seq", "name", "requests", "successes", "failures", "bytesReceived",
                        "bytesSent", "statusCodes", "errors", "histogram",
                    ],
                    ["runId", "name", "slave", "seq"], "rowid",
                    """
                    CREATE TABLE summaryByNameBytes (
                        runId INTEGER NOT NULL,
                        slave TEXT NOT NULL,
                        seq INTEGER NOT NULL CHECK (seq >= 0),
                        name TEXT NOT NULL,
                        requests INTEGER NOT NULL CHECK (requests >= 0),
                        successes INTEGER NOT NULL CHECK (successes >= 0),
                        failures INTEGER NOT NULL CHECK (failures >= 0),
                        bytesReceived INTEGER NOT NULL,
                        bytesSent INTEGER NOT NULL,
                        statusCodes BLOB,
                        errors BLOB,
                        histogram BLOB NOT NULL,
                        UNIQUE (runId, name, slave, seq),
                        FOREIGN KEY (runId, slave, seq) REFERENCES summary(runId, slave, seq) ON DELETE CASCADE,
                        CHECK (successes + failures = requests)
                    )
                    """
                ),
                (
                    "rollup",
                    [
                        "runId", "name", "slave", "windows", "firstStart", "lastEnd", "requests", "successes",
                        "failures", "bytesReceived", "bytesSent", "late", "dropped", "connections", "statusCodes",
                        "errors", "histogram", "uncorrectedHistogram", "failureHistogram", "handshakeHistogram",
                    ],
                    ["runId", "name", "slave"], "runId, name, slave",
                    """
                    CREATE TABLE rollupBytes (
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        slave TEXT NOT NULL,
                        windows INTEGER NOT NULL,
                        firstStart INTEGER,
                        lastEnd INTEGER,
                        requests INTEGER NOT NULL,
                        successes INTEGER NOT NULL,
                        failures INTEGER NOT NULL,
                        bytesReceived INTEGER NOT NULL,
                        bytesSent INTEGER NOT NULL,
                        late INTEGER NOT NULL,
                        dropped INTEGER NOT NULL,
                        connections INTEGER NOT NULL,
                        statusCodes BLOB,
                        errors BLOB,
                        histogram BLOB NOT NULL,
                        uncorrectedHistogram BLOB,
                        failureHistogram BLOB,
                        handshakeHistogram BLOB,
                        PRIMARY KEY (runId, name, slave)
                    ) WITHOUT ROWID
                    """
                ),
                (
                    "rollupSecond",
                    [
                        "runId", "second", "windows", "firstStart", "lastStart", "lastEnd", "requests", "failures",
                        "statusCodes", "errors", "histogram",
                    ],
                    ["runId", "second"], "runId, second",
                    """
                    CREATE TABLE rollupSecondBytes (
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        second INTEGER NOT NULL,
                        windows INTEGER NOT NULL,
                        firstStart INTEGER NOT NULL,
                        lastStart INTEGER NOT NULL,
                        lastEnd INTEGER NOT NULL,
                        requests INTEGER NOT NULL,
                        failures INTEGER NOT NULL,
                        statusCodes BLOB,
                        errors BLOB,
                        histogram BLOB NOT NULL,
                        PRIMARY KEY (runId, second)
                    ) WITHOUT ROWID
                    """
                ),
            ]
            for table in tables {
                // `summary (1, 'a', 0).statusCodes`, in an error.
                let row = "'\(table.name) (' || " + table.key.map { "quote(\($0))" }.joined(separator: " || ', ' || ") + " || ')."
                let converted = table.columns.map { column in
                    switch column {
                    case "statusCodes": "goloadtest_v8_status_codes(statusCodes, \(row)statusCodes')"
                    case "errors": "goloadtest_v8_errors(errors, \(row)errors')"
                    default: column
                    }
                }
                try db.execute(sql: table.create)
                try db.execute(
                    sql: """
                        INSERT INTO \(table.name)Bytes (\(table.columns.joined(separator: ", ")))
                        SELECT \(converted.joined(separator: ", ")) FROM \(table.name) ORDER BY \(table.order)
                        """)
            }
            for table in tables.reversed() { try db.execute(sql: "DROP TABLE \(table.name)") }
            for table in tables { try db.execute(sql: "ALTER TABLE \(table.name)Bytes RENAME TO \(table.name)") }
            for sql in kept { try db.execute(sql: sql) }
        }
        return migrator
    }()
}
