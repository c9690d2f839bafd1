"""Soak: many annotator processes save, edit and delete labels on one workspace at once.

Each process is one annotator working through the same generations in random order
for a fixed time: it saves a label (new spans, a note carrying its sequence number),
edits it, deletes it, and after every action remembers what the label must now be.
All of them also add spans to one shared review label through `labeling.add_span`
(read-modify-write in one transaction), the case where a lost update would show.
At the end the store must hold exactly each annotator's last state, each label once,
every shared span, and pass SQLite's integrity check.

    .venv/bin/python bench/soak_labels.py --annotators 16 --seconds 60

The last stdout line is one JSON object (labels written vs stored, lost, extra, ...).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hallu_core.store.database import Store  # noqa: E402
from hallu_core.store.types import Checkpoint, Example, Generation, Label, Span  # noqa: E402

SHARED_ANNOTATOR = "review"
SHARED_GENERATION = "shared"
TEXT = "Marie Curie was born in Warsaw in 1867 and worked in Paris. " * 4


def prepare(root: str | Path, n_generations: int) -> Store:
    store = Store(root)
    from hallu_core.store.types import Run

    store.add_examples([Example("e", "soak", "Tell me about Marie Curie.")])
    store.add_run(Run("r", "soak", "base"))
    store.add_checkpoint(Checkpoint("c", "r", 0, "base"))
    shared_text = "x" * 20_000
    store.add_generations([Generation(f"g{i:03d}", "e", "c", TEXT) for i in range(n_generations)]
                          + [Generation(SHARED_GENERATION, "e", "c", shared_text)])
    return store


def annotator_worker(root: str, annotator: str, worker: int, seconds: float, start_at: float, out: str) -> None:
    """One annotator: random save / edit / delete for `seconds`; writes its journal to `out`."""
    from hallu_core.labeling import queue as labeling

    store = Store(root, timeout=120)
    ids = [g.id for g in store.generations() if g.id != SHARED_GENERATION]
    rng = random.Random(worker)
    expected: dict[str, dict | None] = {}  # generation -> the label it must hold now (None: deleted)
    ops = {"save": 0, "edit": 0, "delete": 0, "shared_add": 0}
    shared: list[list[int]] = []
    seq = 0
    while time.time() < start_at:  # start together: the point is contention
        time.sleep(0.005)
    deadline = time.time() + seconds
    while time.time() < deadline:
        gid = rng.choice(ids)
        seq += 1
        op = rng.choices(["save", "edit", "delete", "shared_add"], [4, 3, 1, 1])[0]
        if op == "edit" and expected.get(gid) is None:
            op = "save"
        if op == "delete":
            store.delete_label(gid, annotator)
            expected[gid] = None
        elif op == "shared_add":
            # distinct per worker and sequence: (start, end) = (seq, seq + 1 + worker)
            start, end = seq % 15_000, seq % 15_000 + 1 + worker
            labeling.add_span(store, SHARED_GENERATION, SHARED_ANNOTATOR, start, end, "baseless",
                              note=f"{annotator}#{seq}")
            shared.append([start, end])
        else:
            start = rng.randrange(0, len(TEXT) - 10)
            spans = [Span(start, start + rng.randrange(1, 10), rng.choice(["conflict", "baseless"]),
                          note=f"{annotator} seq {seq}")]
            status = rng.choice(["done", "done", "skipped"])
            store.save_label(Label(gid, annotator, spans, status, note=f"{op} {seq}"))
            expected[gid] = {"spans": [[s.start, s.end, s.type, s.note] for s in spans], "status": status,
                             "note": f"{op} {seq}"}
        ops[op] += 1
    store.close()
    Path(out).write_text(json.dumps({"annotator": annotator, "ops": ops, "expected": expected,
                                     "shared": shared}))


def run_soak(root: str | Path, annotators: int = 8, seconds: float = 3.0, n_generations: int = 30) -> dict:
    root = Path(root)
    store = prepare(root, n_generations)
    journals = root / "journals"
    journals.mkdir(exist_ok=True)
    ctx = mp.get_context("spawn")
    start_at = time.time() + 1.0 + 0.25 * annotators  # time for every process to start
    names = [f"annotator-{k:02d}" for k in range(annotators)]
    procs = [ctx.Process(target=annotator_worker, args=(str(root), name, k, seconds, start_at,
                                                        str(journals / f"{name}.json")))
             for k, name in enumerate(names)]
    began = time.time()
    for p in procs:
        p.start()
    for p in procs:
        p.join(seconds + 120)
    wall = time.time() - began
    exitcodes = [p.exitcode for p in procs]
    return {**verify(store, [json.loads((journals / f"{n}.json").read_text()) for n in names
                             if (journals / f"{n}.json").exists()]),
            "annotators": annotators, "seconds": seconds, "wall_s": round(wall, 2), "exitcodes": exitcodes}


def verify(store: Store, journals: list[dict]) -> dict:
    """Compare the store with what every annotator last did."""
    lost = wrong = extra = 0
    present = 0
    for journal in journals:
        stored = {label.generation_id: label for label in store.labels(annotator=journal["annotator"])}
        for gid, want in journal["expected"].items():
            got = stored.pop(gid, None)
            if want is None:
                extra += got is not None
                continue
            present += 1
            if got is None:
                lost += 1
            elif ([[s.start, s.end, s.type, s.note] for s in got.spans], got.status, got.note) != \
                    (want["spans"], want["status"], want["note"]):
                wrong += 1
        extra += len(stored)  # labels nobody wrote
    duplicates = store.query("SELECT COUNT(*) FROM (SELECT generation_id, annotator FROM labels "
                             "GROUP BY generation_id, annotator HAVING COUNT(*) > 1)")[0][0]
    shared_label = store.get_label(SHARED_GENERATION, SHARED_ANNOTATOR)
    shared_stored = {(s.start, s.end) for s in shared_label.spans} if shared_label else set()
    shared_written = {tuple(s) for j in journals for s in j["shared"]}
    ops = {k: sum(j["ops"][k] for j in journals) for k in journals[0]["ops"]} if journals else {}
    labels_stored = store.query("SELECT COUNT(*) FROM labels WHERE annotator != ?", (SHARED_ANNOTATOR,))[0][0]
    return {
        "label_writes": ops.get("save", 0) + ops.get("edit", 0), "deletes": ops.get("delete", 0),
        "labels_expected": present, "labels_stored": labels_stored, "lost": lost, "wrong": wrong,
        "extra": extra, "duplicates": duplicates,
        "shared_spans_written": len(shared_written), "shared_spans_stored": len(shared_stored),
        "shared_spans_lost": len(shared_written - shared_stored),
        "integrity": store.query("PRAGMA integrity_check")[0][0], "journals": len(journals), "ops": ops,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotators", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--generations", type=int, default=50)
    parser.add_argument("--workspace", help="Folder for the soak workspace (default: a temporary one).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hallu-soak-") as tmp:
        root = Path(args.workspace) if args.workspace else Path(tmp) / "ws"
        result = run_soak(root, args.annotators, args.seconds, args.generations)
    ok = (result["lost"] == result["wrong"] == result["extra"] == result["duplicates"]
          == result["shared_spans_lost"] == 0 and result["integrity"] == "ok"
          and result["journals"] == args.annotators)
    print(f"{args.annotators} annotators for {args.seconds:.0f}s: {result['label_writes']} label writes, "
          f"{result['deletes']} deletes, {result['labels_expected']} labels expected, "
          f"{result['labels_stored']} stored; shared spans {result['shared_spans_written']} written, "
          f"{result['shared_spans_stored']} stored; integrity {result['integrity']}")
    print(json.dumps({**result, "ok": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
