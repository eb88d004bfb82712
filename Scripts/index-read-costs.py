#!/usr/bin/env python3
"""Times, at the SQLite level, reading the records of a 100-row page from a `bench scale` data folder:
contiguous (100 consecutive records) and scattered (100 random records over the whole chain), from a
record index of schema 2 (the bytes in `records_versions`) and of schema 3 (a slice of the stored block,
read with incremental blob I/O, sorted by block and offset as `LedgerStore.read(_:)` does).
Python's own overhead (one `execute` per lookup) is in every figure; compare the rows side by side.

    python3 Scripts/index-read-costs.py SCHEMA2_DATA_FOLDER SCHEMA3_DATA_FOLDER
"""
import sqlite3, random, time, sys
before, after = sys.argv[1], sys.argv[2]
random.seed(7)
ia = sqlite3.connect(f"file:{after}/records-index.sqlite?mode=ro", uri=True)
la = sqlite3.connect(f"file:{after}/ledger.sqlite?mode=ro", uri=True)
ib = sqlite3.connect(f"file:{before}/records-index.sqlite?mode=ro", uri=True)
# The same ledger through memory-mapped I/O: the overflow chain walk becomes memory reads.
lm = sqlite3.connect(f"file:{after}/ledger.sqlite?mode=ro", uri=True)
lm.execute("PRAGMA mmap_size = 4294967296")
n = ia.execute("select count(*) from records_current").fetchone()[0]

def schema3(ids, la=la):
    rows = [ia.execute("select v.height, v.tx, v.offset, v.length from records_current c join records_versions v on v.record = c.id and v.version = c.version where c.record_id = ?", (i,)).fetchone() for i in ids]
    rows.sort()
    out = []
    blob = None; bh = None
    for h, tx, off, ln in rows:
        tid, toff = la.execute("select id, offset from transactions where key = ?", ((h << 20) | tx,)).fetchone()
        if blob is None: blob = la.blobopen("blocks", "encoded", h, readonly=True); bh = h
        elif bh != h: blob.close(); blob = la.blobopen("blocks", "encoded", h, readonly=True); bh = h
        blob.seek(toff + off); out.append(blob.read(ln + 33))
    if blob: blob.close()
    return out

def schema2(ids):
    return [ib.execute("select v.body, v.digest, v.tx_id from records_current c join records_versions v on v.record_id = c.record_id and v.version = c.version where c.record_id = ?", (i,)).fetchone() for i in ids]

for label, make in [("contiguous", lambda: (lambda s: [f"P-{k}" for k in range(s, s + 100)])(random.randrange(n - 100))),
                    ("scattered", lambda: [f"P-{random.randrange(n)}" for _ in range(100)])]:
    for name, f in [("schema 2", schema2), ("schema 3", schema3), ("schema 3, ledger mmap", lambda ids: schema3(ids, lm))]:
        times = []
        for _ in range(200):
            ids = make()
            t = time.perf_counter(); f(ids); times.append(time.perf_counter() - t)
        times.sort()
        print(f"{label:10} {name}: p50 {times[100]*1000:.2f} ms, p99 {times[197]*1000:.2f} ms per 100 records")
