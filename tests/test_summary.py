"""Summary tables (schema migration 4): equal to the same aggregate over the base tables after any writes."""
from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from helpers.schema import database_at_schema

from hallu_core.data import prompts
from hallu_core.data.io import import_file
from hallu_core.store import schema, sides, summary
from hallu_core.store.database import Store
from hallu_core.store.schema import MIGRATIONS
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Label, Run, SPAN_TYPES, Span
from hallu_core.views import compare as cmp, queries as q

from fixtures_dashboard import ragtruth_lines


def expected(store: Store) -> tuple[dict, dict]:
    """The summary recomputed in Python from the base tables, with no SQL aggregate."""
    knowledge = {}
    for row in store.query("SELECT id, meta FROM examples"):
        try:
            value = json.loads(row["meta"]).get("knowledge")
        except (ValueError, AttributeError):
            value = None
        # SQLite's view of a JSON value as text: true -> '1', "new" -> 'new'
        knowledge[row["id"]] = "" if value is None else str(int(value) if isinstance(value, bool) else value)
    key_of = {g.id: (g.checkpoint_id, side_of(g), knowledge.get(g.example_id, "")) for g in store.generations()}
    gens: dict = defaultdict(Counter)
    for gid, key in key_of.items():
        gens[key]["generations"] += 1
    done = [lab for lab in store.labels() if lab.status == "done"]
    for gid in {lab.generation_id for lab in done}:
        gens[key_of[gid]]["labeled"] += 1
    sources: dict = defaultdict(Counter)
    for (gid, detector), rows in stored_detections(store).items():
        if gid not in key_of:  # stored before its generation: counts once the generation exists
            continue
        c = sources[("detector", detector, *key_of[gid])]
        c["n_rows"] += len(rows)
        c["judged"] += 1
        newest = newest_of(rows)["spans"]  # only the newest configuration's spans count
        c["flagged"] += bool(newest)
        c["spans"] += len(newest)
        c.update(s.get("type", "unknown") for s in newest)
    for lab in store.labels():
        c = sources[("labels", lab.annotator, *key_of[lab.generation_id])]
        c["n_rows"] += 1
        if lab.status == "done":
            c["judged"] += 1
            c["flagged"] += bool(lab.spans)
            c["spans"] += len(lab.spans)
            c.update(s.type for s in lab.spans)
    as_dict = lambda counters, cols: {k: tuple(v[c] for c in cols) for k, v in counters.items()}  # noqa: E731
    return as_dict(gens, ("generations", "labeled")), as_dict(sources, summary.SRC_COUNTS)


def side_of(g: Generation) -> str:
    """The decoding side a generation counts under, from its stored decoding and prompt template (meta): a
    templated output's side names its template ("greedy · grounded"), so the summary never pools two templates."""
    template = g.meta.get("prompt_template")
    decoding, in_label = prompts.split(g.decoding_name)
    return prompts.label(decoding if in_label == template else g.decoding_name, template)


def stored_detections(store: Store) -> dict:
    per_detector: dict = defaultdict(list)
    for row in store.query("SELECT rowid, * FROM detections"):
        per_detector[row["generation_id"], row["detector"]].append({**dict(row), "spans": json.loads(row["spans"])})
    return per_detector


def newest_of(rows: list[dict]) -> dict:
    """The row that counts: the latest created_at, ties to the row stored last."""
    return max(rows, key=lambda r: (r["created_at"], r["rowid"]))


def expected_sides(store: Store) -> dict:
    """Compare's per-side scores recounted from the base tables."""
    gens = {g.id: g for g in store.generations()}
    out = {}
    for (gid, detector), rows in stored_detections(store).items():
        g, newest = gens.get(gid), newest_of(rows)
        if g:
            out[("detector", detector, g.checkpoint_id, g.decoding_name, g.sample_index, g.example_id, gid)] = (
                len(newest["spans"]), newest["response_score"])
    for lab in store.labels():
        g = gens.get(lab.generation_id)
        if g and lab.status == "done":
            out[("labels", lab.annotator, g.checkpoint_id, g.decoding_name, g.sample_index, g.example_id, g.id)] = (
                len(lab.spans), float(len(lab.spans)))
    return out


def stored_sides(store: Store) -> dict:
    return {tuple(r[:7]): (r[7], r[8]) for r in store.query(f"SELECT {sides.KEY}, n_spans, score FROM side_scores")}


def expected_latest(store: Store) -> dict:
    return {key: (newest_of(rows)["rowid"], newest_of(rows)["config_hash"], len(newest_of(rows)["spans"]))
            for key, rows in stored_detections(store).items()}


def stored_latest(store: Store) -> dict:
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in store.query(
        "SELECT generation_id, detector, det_rowid, config_hash, n_spans FROM detection_latest")}


def stored(store: Store) -> tuple[dict, dict]:
    gens = {(r[0], r[1], r[2]): (r[3], r[4]) for r in store.query(
        "SELECT checkpoint_id, decoding_name, knowledge, generations, labeled FROM generation_summary")}
    cols = ", ".join(summary.SRC_COUNTS)
    sources = {tuple(r[:5]): tuple(r[5:]) for r in store.query(
        f"SELECT source_kind, source, checkpoint_id, decoding_name, knowledge, {cols} FROM source_summary")}
    return gens, sources


def assert_in_sync(store: Store) -> None:
    want, got = expected(store), stored(store)
    assert got[0] == want[0]
    assert got[1] == want[1]
    assert stored_latest(store) == expected_latest(store)
    assert stored_sides(store) == expected_sides(store)


def gen(ex: str, ck: str, dec: str = "greedy", sample: int = 0) -> Generation:
    return Generation(f"{ex}-{ck}-{dec}-{sample}", ex, ck, "Ada was born in Oslo in 1900.", {"s": dec}, dec, sample)


def conflict(start: int = 16, end: int = 20) -> Span:
    return Span(start, end, "conflict", 0.9)


@pytest.fixture
def ws(store):
    store.add_run(Run("r", "run", "tiny", created_at=1))
    for step in (0, 10):
        store.add_checkpoint(Checkpoint(f"c{step}", "r", step, f"step-{step}"))
    store.add_examples([Example(f"e{i}", "d", f"prompt {i}", task="qa", meta=meta)
                        for i, meta in enumerate([{"knowledge": "known"}, {"knowledge": "new"}, {}])])
    store.add_generations([gen(f"e{i}", ck, dec) for i in range(3) for ck in ("c0", "c10")
                           for dec in ("greedy", "sample")])
    return store


def test_starts_empty_and_counts_generations(ws):
    assert_in_sync(ws)
    assert q.overview(ws)["generations"] == 12


def test_detections_added_replaced_and_deleted(ws):
    ws.add_detections([Detection("e0-c0-greedy-0", "lex", "h1", [conflict(), Span(0, 3, "baseless")], 0.9),
                       Detection("e1-c0-greedy-0", "lex", "h1", [], 0.1),
                       Detection("e0-c0-greedy-0", "lex", "h2", [], 0.2),  # a second config of the same detector
                       Detection("e1-c10-sample-0", "conf", "h1", [Span(0, 3, "unknown")], 0.6)])
    assert_in_sync(ws)
    # store the same keys again (an upsert): one flagged output turns clean, a clean one flagged
    ws.add_detections([Detection("e0-c0-greedy-0", "lex", "h1", [], 0.1),
                       Detection("e1-c0-greedy-0", "lex", "h1", [conflict()], 0.8)])
    assert_in_sync(ws)
    with ws.transaction() as conn:  # REPLACE, as a raw writer might: the delete trigger must still fire
        conn.execute("INSERT OR REPLACE INTO detections VALUES (?,?,?,?,?,?,?,?)",
                     ("e1-c0-greedy-0", "lex", "h1", "[]", 0, "", 0.1, 1.0))
    assert_in_sync(ws)
    assert ws.delete_detections("lex", "h1") == 2
    assert_in_sync(ws)
    assert ws.delete_detections("lex", "h2") == 1
    assert_in_sync(ws)
    assert [r[0] for r in ws.query("SELECT DISTINCT source FROM source_summary")] == ["conf"]


def test_labels_added_edited_and_deleted(ws):
    ws.add_labels([Label("e0-c0-greedy-0", "ann", [conflict()]), Label("e0-c0-greedy-0", "bob", []),
                   Label("e1-c10-greedy-0", "ann", [conflict()], status="skipped")])
    assert_in_sync(ws)
    ws.save_label(Label("e1-c10-greedy-0", "ann", [conflict(), Span(0, 3, "self_contradiction")]))  # skipped -> done
    ws.save_label(Label("e0-c0-greedy-0", "ann", [], status="skipped"))  # done -> skipped; bob's keeps it labeled
    assert_in_sync(ws)
    ws.delete_label("e0-c0-greedy-0", "bob")
    assert_in_sync(ws)
    with ws.transaction() as conn:  # a raw edit that moves a label to another annotator
        conn.execute("UPDATE labels SET annotator = 'carol' WHERE annotator = 'ann' AND status = 'done'")
    assert_in_sync(ws)
    ws.delete_label("e1-c10-greedy-0", "carol")
    ws.delete_label("e0-c0-greedy-0", "ann")
    assert_in_sync(ws)
    assert q.overview(ws)["labeled_generations"] == 0


def test_generations_inserted_later_and_ignored_duplicates(ws):
    ws.add_detections([Detection("e0-c0-greedy-0", "lex", "h1", [conflict()], 0.9)])
    assert ws.add_generations([gen("e0", "c0"), gen("e0", "c0", sample=1), gen("e2", "c10", sample=1)]) == 2
    assert_in_sync(ws)


def test_example_knowledge_changes_move_counts(ws):
    ws.add_detections([Detection("e0-c0-greedy-0", "lex", "h1", [conflict()], 0.9)])
    ws.add_labels([Label("e0-c10-greedy-0", "ann", [conflict()])])
    ws.add_examples([Example("e0", "d", "prompt 0", task="qa", meta={"knowledge": "new"})])  # re-imported
    assert_in_sync(ws)
    with ws.transaction() as conn:
        conn.execute("""UPDATE examples SET meta = '{"knowledge": true}' WHERE id = 'e1'""")
        conn.execute("UPDATE examples SET meta = 'not json' WHERE id = 'e2'")
    assert_in_sync(ws)
    known = {r["knowledge"] for r in q.hallucination_rates(ws, by_decoding=False, by_knowledge=True)}
    assert known == {"new"}


def test_raw_deletes_and_key_changes_of_generations(ws):
    ws.add_detections([Detection("e2-c0-greedy-0", "lex", "h1", [conflict()], 0.9)])
    ws.add_labels([Label("e2-c0-greedy-0", "ann", [conflict()])])
    with ws.transaction() as conn:
        conn.execute("UPDATE generations SET checkpoint_id = 'c10', decoding_name = 'beam' WHERE id = 'e2-c0-greedy-0'")
    assert_in_sync(ws)
    with ws.transaction() as conn:
        conn.execute("DELETE FROM labels WHERE generation_id = 'e2-c0-greedy-0'")
        conn.execute("DELETE FROM detections WHERE generation_id = 'e2-c0-greedy-0'")
        conn.execute("DELETE FROM generations WHERE id = 'e2-c0-greedy-0'")
    assert_in_sync(ws)


def test_rows_written_before_their_generation_count_once_it_exists(ws):
    with ws.transaction() as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")  # checked at commit, when the generation exists
        ws.add_detections([Detection("e1-c0-greedy-1", "lex", "h1", [conflict()], 0.9)])
        ws.add_labels([Label("e1-c0-greedy-1", "ann", [])])
        ws.add_generations([gen("e1", "c0", sample=1)])
    assert_in_sync(ws)


def test_import_file_keeps_the_summary(store, tmp_path):
    path = tmp_path / "rt.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ragtruth_lines()), encoding="utf-8")
    import_file(store, path)
    assert_in_sync(store)
    assert q.overview(store)["labeled_generations"] == 6  # every RAGTruth row carries gold labels


def test_synthetic_workspace_and_rebuild(tmp_path):
    from hallu_core.data import synthetic

    store = synthetic.build(tmp_path / "ws", n_examples=12, steps=(0, 100))
    assert_in_sync(store)
    before = stored(store)
    with store.transaction() as conn:
        conn.execute("DELETE FROM source_summary")
    schema.rebuild(store)
    assert stored(store) == before
    assert_in_sync(store)
    store.close()


def test_migration_backfills_a_workspace_of_the_previous_version(tmp_path):
    """A workspace made at schema 3 (no summary) gets its summary on open."""
    root = tmp_path / "old"
    conn = database_at_schema(root, 3)
    conn.executemany("INSERT INTO examples VALUES (?,?,?,?,?,?,?)",
                     [("e0", "d", "p", None, None, "qa", '{"knowledge": "known"}'),
                      ("e1", "d", "p", None, None, "qa", "{}")])
    conn.execute("INSERT INTO runs VALUES ('r', 'run', 'tiny', 'finetune', '{}', 'done', '{}', 1)")
    conn.execute("INSERT INTO checkpoints VALUES ('c0', 'r', 0, 'base', NULL, '{}', 1)")
    for ex in ("e0", "e1"):
        for sample in (0, 1):
            conn.execute("INSERT INTO generations VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (f"{ex}-{sample}", ex, "c0", "text", "{}", "greedy", sample, "[]", "{}", 1))
    spans = json.dumps([{"start": 0, "end": 2, "type": "conflict"}, {"start": 2, "end": 4, "type": "baseless"}])
    conn.executemany("INSERT INTO detections VALUES (?,?,?,?,?,?,?,?)",
                     [("e0-0", "lex", "h1", spans, 2, "baseless,conflict", 0.9, 1),
                      ("e0-0", "lex", "h2", "[]", 0, "", 0.1, 1), ("e1-1", "lex", "h1", "[]", 0, "", 0.1, 1)])
    conn.executemany("INSERT INTO labels VALUES (?,?,?,?,?,?,?,?)",
                     [("e0-0", "gold", spans, 2, "done", "", 1, 1), ("e1-0", "gold", "[]", 0, "skipped", "", 1, 1)])
    conn.close()

    store = Store(root)
    assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    assert_in_sync(store)
    gens, sources = stored(store)
    assert gens[("c0", "greedy", "known")] == (2, 1)
    # two configs stored at the same time: the one stored last (h2, clean) is the newest and counts
    assert sources[("detector", "lex", "c0", "greedy", "known")] == (2, 1, 0, 0, 0, 0, 0, 0)
    store.close()


def test_migration_from_schema_4_counts_only_the_newest_detection(tmp_path):
    """A workspace of the previous version (summary by triggers, every config counted) migrates to 5."""
    root = tmp_path / "v4"
    conn = database_at_schema(root, 4, recursive_triggers=True)
    conn.execute("INSERT INTO examples VALUES ('e0', 'd', 'p', NULL, NULL, 'qa', '{\"knowledge\": \"new\"}')")
    conn.execute("INSERT INTO runs VALUES ('r', 'run', 'tiny', 'finetune', '{}', 'done', '{}', 1)")
    for step in (0, 10):
        conn.execute("INSERT INTO checkpoints VALUES (?, 'r', ?, 'c', NULL, '{}', 1)", (f"c{step}", step))
        conn.execute("INSERT INTO generations VALUES (?,?,?,?,?,?,?,?,?,?)",
                     (f"g{step}", "e0", f"c{step}", "text", "{}", "greedy", 0, "[]", "{}", 1))
    spans = json.dumps([{"start": 0, "end": 2, "type": "conflict"}])
    conn.executemany("INSERT INTO detections VALUES (?,?,?,?,?,?,?,?)",
                     [("g0", "lex", "old", spans, 1, "conflict", 0.9, 1.0),  # flagged by an old config ...
                      ("g0", "lex", "new", "[]", 0, "", 0.1, 2.0),  # ... cleared by the newer one
                      ("g10", "lex", "new", spans, 1, "conflict", 0.8, 2.0)])
    conn.execute("INSERT INTO labels VALUES ('g10', 'ann', ?, 1, 'done', '', 1, 1)", (spans,))
    before = conn.execute("SELECT flagged FROM source_summary WHERE checkpoint_id = 'c0'").fetchone()[0]
    conn.close()
    assert before == 1  # schema 4 counted the old config's span

    store = Store(root)
    assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS) >= 5
    assert_in_sync(store)
    rates = {r["checkpoint_id"]: r["rate"] for r in q.hallucination_rates(store, sources=[("detector", "lex")])}
    assert rates == {"c0": 0.0, "c10": 1.0}
    assert cmp.aggregate_deltas(store, ("c0", "greedy"), ("c10", "greedy"), ("detector", "lex"))["regressions"] == 1
    store.close()


def test_the_newest_detection_counts_through_reruns_and_deletes(ws):
    g = "e0-c0-greedy-0"
    ws.add_detections([Detection(g, "lex", "h1", [conflict()], 0.9, created_at=1.0)])
    ws.add_detections([Detection(g, "lex", "h2", [], 0.1, created_at=2.0)])  # a rerun with another config
    assert_in_sync(ws)
    assert ws.query("SELECT config_hash FROM detection_latest WHERE generation_id = ?", (g,))[0][0] == "h2"
    ws.add_detections([Detection(g, "lex", "h1", [conflict()], 0.9, created_at=3.0)])  # h1 run again: newest
    assert_in_sync(ws)
    assert q.hallucination_rates(ws, sources=[("detector", "lex")])[0]["positive"] == 1
    ws.add_detections([Detection(g, "lex", "h0", [], 0.1, created_at=0.5)])  # an older result stored late
    assert_in_sync(ws)
    assert ws.delete_detections("lex", "h1") == 1  # the newest deleted: the next newest (h2) counts
    assert_in_sync(ws)
    assert ws.query("SELECT config_hash FROM detection_latest WHERE generation_id = ?", (g,))[0][0] == "h2"
    assert q.hallucination_rates(ws, sources=[("detector", "lex")])[0]["positive"] == 0


def test_every_type_is_a_column():
    assert set(SPAN_TYPES) <= set(summary.SRC_COUNTS)


def test_a_migration_another_process_finished_is_not_run_again(tmp_path, monkeypatch):
    """Two processes opening an old workspace at once: the second re-reads the version under the lock."""
    Store(tmp_path / "ws").close()  # fully migrated, as if by the other process
    stale = iter([len(MIGRATIONS) - 1])  # what this process read before the other one finished
    real = Store._schema_version
    monkeypatch.setattr(Store, "_schema_version", lambda self: next(stale, None) or real(self))
    store = Store(tmp_path / "ws")  # would fail with "table example_knowledge already exists"
    assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    store.close()


def _generated(ck: str, template: str, flagged: set[str]) -> list[Generation]:
    """Greedy outputs of the three examples as `hallu generate` stores them under `template`."""
    from hallu_core.modeling.config import DecodingConfig
    from hallu_core.modeling.generate import _records
    from hallu_core.modeling.generate_backends import Output

    examples = [Example(f"e{i}", "d", f"prompt {i}") for i in range(3)]
    outputs = [[Output("Ada was born in Oslo." if f"e{i}" in flagged else "Ada.", [])] for i in range(3)]
    return _records(Checkpoint(ck, "r", 0, "step-0"), DecodingConfig(), examples, outputs, "hf", template)


def test_templates_keep_sides_of_their_own_in_the_summary_and_in_compare(ws):
    grounded, custom = _generated("c0", "grounded", {"e0"}), _generated("c0", "Facts: {source}. {prompt}", set())
    closed = _generated("c0", "closed-book", {"e0", "e1"})
    assert ws.add_generations(closed + grounded + custom) == 9  # none overwrites another
    for g in closed + grounded + custom:
        ws.add_labels([Label(g.id, "oracle", [conflict(0, 3)] if "Oslo" in g.text else [])])
    assert_in_sync(ws)
    rates = {(r["decoding"], r["prompt_template"]): (r["n"], r["positive"])
             for r in q.hallucination_rates(ws, [("labels", "oracle")]) if r["checkpoint_id"] == "c0"}
    custom_side = f"greedy · {prompts.name_of('Facts: {source}. {prompt}')}"
    assert rates == {("greedy", "closed-book"): (3, 2), ("greedy · grounded", "grounded"): (3, 1),
                     (custom_side, custom_side.split(" · ")[1]): (3, 0)}
    # "same checkpoint, grounded vs closed-book" is one Compare: the pairs are the same examples
    agg = cmp.aggregate_deltas(ws, ("c0", "greedy"), ("c0", "greedy · grounded"), ("labels", "oracle"))
    assert (agg["n"], agg["a_rate"], agg["b_rate"], agg["fixes"], agg["regressions"]) == (3, 2 / 3, 1 / 3, 1, 0)
    ws.delete_label(grounded[0].id, "oracle")  # a grounded label goes: only the grounded side moves
    assert_in_sync(ws)
    assert cmp.aggregate_deltas(ws, ("c0", "greedy"), ("c0", "greedy · grounded"), ("labels", "oracle"))["n"] == 2
