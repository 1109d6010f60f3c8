#!/usr/bin/env python3
"""Adds synthetic runs to a goloadtest database, for the report benchmark.

    make_history.py DB --slaves 1000 --windows 600 [--runs 1]

Prints the id of the last run added. The runs are closed (`completed`) and have no rollups, as
an older goloadtest would have left them: the next writer to open the file rolls them up.

The database must already have goloadtest's schema (any master or `goloadtest run` creates it).
Windows carry latency histograms in goloadtest's documented encoding (README: Histogram
encoding) and status codes as the bytes of Protos/store/counts.proto's StatusCounts, so the
report reads them exactly as it reads real ones.
"""
import argparse
import random
import sqlite3

LOWEST, HIGHEST, DIGITS = 1, 3_600_000_000, 3


def varint(value, out):
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def status_codes(counts):
    """StatusCounts {map<uint32, uint64> counts = 1}, entries in key order, as goloadtest stores it."""
    out = bytearray()
    for code in sorted(counts):
        entry = bytearray([0x08])
        varint(code, entry)
        entry.append(0x10)
        varint(counts[code], entry)
        out.append(0x0A)
        varint(len(entry), out)
        out += entry
    return bytes(out)


def bucket_floor(value):
    """HdrHistogram's lowest equivalent value at 3 significant digits (2048 sub-buckets)."""
    shift = max(0, value.bit_length() - 11)
    return (value >> shift) << shift


def histogram(rng, samples):
    counts = {}
    for _ in range(samples // 8):
        # Mostly around 2 ms with a long tail, in microseconds.
        value = int(rng.lognormvariate(7.6, 0.6)) + 1
        value = bucket_floor(min(value, HIGHEST))
        counts[value] = counts.get(value, 0) + 8
    pairs = sorted(counts.items())
    out = bytearray()
    total = sum(c for _, c in pairs)
    for field in (1, LOWEST, HIGHEST, DIGITS, total, pairs[0][0], pairs[-1][0], len(pairs)):
        varint(field, out)
    previous = 0
    for value, count in pairs:
        varint(value - previous, out)
        varint(count, out)
        previous = value
    return bytes(out), total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--slaves", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=600)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    # A pool of window histograms, reused: generating 600,000 distinct ones would take minutes.
    pool = [histogram(rng, rng.randint(600, 1400)) for _ in range(500)]

    db = sqlite3.connect(args.db)
    second = 1_000_000_000
    for r in range(args.runs):
        start = 1_790_000_000_000_000_000 + r * (args.windows + 10) * second
        with db:
            cursor = db.execute(
                "INSERT INTO run (master, status, startedAt, finishedAt) VALUES ('bench', 'completed', ?, ?)",
                (start, start + args.windows * second))
            run_id = cursor.lastrowid
            names = [f"slave{s:04d}" for s in range(args.slaves)]
            for name in names:
                db.execute(
                    "INSERT INTO runSlave (runId, slave, status, tasks, batch, url, joinedAt, finishedAt, reportedRequests)"
                    " VALUES (?, ?, 'finished', 1000000, 64, 'http://127.0.0.1:8080/', ?, ?, 0)",
                    (run_id, name, start, start + args.windows * second))
            # Second by second, every slave's window, in the order a master stores them.
            for w in range(args.windows):
                rows = []
                for s, name in enumerate(names):
                    blob, total = pool[(s * 7 + w) % len(pool)]
                    failures = total // 100
                    rows.append((
                        run_id, name, w, start + w * second, start + (w + 1) * second, total, total - failures,
                        failures, total * 120, total * 80, status_codes({200: total - failures, 503: failures}),
                        None, blob, 0, int(w == args.windows - 1)))
                db.executemany(
                    "INSERT INTO summary (runId, slave, seq, startedAt, endedAt, requests, successes, failures,"
                    " bytesReceived, bytesSent, statusCodes, errors, histogram, late, isFinal)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    print(run_id)


if __name__ == "__main__":
    main()
