"""Compare's per-side columns (side_vectors, schema migration 6): the deltas and rankings Compare shows equal
a recount from the base tables (newest detection per generation and detector, done labels) after re-runs,
older configurations stored late, deletions, labels and generations added, and after migrating a schema 5
workspace."""
from __future__ import annotations

import sqlite3

import pytest

from hallu_core.data import synthetic
from hallu_core.store import side_vectors
from hallu_core.store.database import Store
from hallu_core.store.schema import MIGRATIONS
from hallu_core.store.types import Detection, Generation, Label, Span
from hallu_core.views import compare as cmp

from test_summary import expected_sides

A, B, LEX, ORACLE = ("ckpt-0", "greedy"), ("ckpt-400", "greedy"), ("detector", "lexical"), ("labels", "oracle")


def recount(store: Store, side_a, side_b, source) -> tuple[dict, list, list]:
    """Aggregate and full rankings from the base tables, in plain Python (no SQL aggregate, no numpy)."""
    per_side = {}
    for (kind, name, ckpt, dec, sample, ex, gid), (n, score) in expected_sides(store).items():
        if (kind, name) == tuple(source) and sample == 0:
            per_side[(ckpt, dec), ex] = (n, score, gid)
    pairs = [(ex, per_side[tuple(side_a), ex], per_side[tuple(side_b), ex])
             for (side, ex) in per_side if side == tuple(side_a) and (tuple(side_b), ex) in per_side]
    n = len(pairs)
    mean = lambda xs: sum(xs) / len(xs) if xs else 0  # noqa: E731
    agg = {"n": n, "a_rate": mean([a[0] > 0 for _, a, _ in pairs]), "b_rate": mean([b[0] > 0 for _, _, b in pairs]),
           "a_mean_spans": mean([a[0] for _, a, _ in pairs]), "b_mean_spans": mean([b[0] for _, _, b in pairs]),
           "a_score": mean([a[1] for _, a, _ in pairs]), "b_score": mean([b[1] for _, _, b in pairs]),
           "regressions": sum(b[0] > a[0] for _, a, b in pairs), "fixes": sum(b[0] < a[0] for _, a, b in pairs),
           "newly_flagged": sum(a[0] == 0 < b[0] for _, a, b in pairs),
           "cleared": sum(a[0] > 0 == b[0] for _, a, b in pairs)}
    row = lambda ex, a, b: (ex, a[2], b[2], a[0], b[0], a[1], b[1], b[0] - a[0])  # noqa: E731
    regressions = sorted((row(ex, a, b) for ex, a, b in pairs if b[0] > a[0]),
                         key=lambda r: (-r[7], -(r[6] - r[5]), r[0]))
    fixes = sorted((row(ex, a, b) for ex, a, b in pairs if b[0] < a[0]), key=lambda r: (r[7], -(r[5] - r[6]), r[0]))
    return agg, regressions, fixes


def as_rows(ranked: list[dict]) -> list[tuple]:
    return [tuple(r[k] for k in cmp.RANKED_COLUMNS[:-1]) for r in ranked]


def assert_matches_recount(store: Store, source, limit: int = 7) -> None:
    agg, regressions, fixes = recount(store, A, B, source)
    got = cmp.changes(store, A, B, source, limit=limit)
    assert got["aggregate"] == pytest.approx(agg)
    assert as_rows(got["regressions"]) == regressions[:limit]
    assert as_rows(got["fixes"]) == fixes[:limit]
    assert all(r["prompt"] for r in got["regressions"] + got["fixes"])
    # paging: the pages of the separate query join up to the whole ranking
    pages = [cmp.ranked_changes(store, A, B, source, "regressions", limit=5, offset=o) for o in range(0, 60, 5)]
    assert [r for page in pages for r in as_rows(page)] == regressions
    assert cmp.aggregate_deltas(store, A, B, source) == got["aggregate"]


def stored_vectors(store: Store) -> dict:
    """side_vectors decoded back into side_scores' shape (judge, side, prompt -> spans, score)."""
    numbers = dict(store.query("SELECT no, example_id FROM example_numbers"))
    out = {}
    for row in store.query("SELECT * FROM side_vectors"):
        data = row["data"]
        assert len(data) % side_vectors.RECORD_WIDTH == 0
        for i in range(0, len(data), side_vectors.RECORD_WIDTH):
            rec = data[i:i + side_vectors.RECORD_WIDTH]
            no = (row["chunk"] << side_vectors.CHUNK_BITS) + int(rec[1:3])
            key = (row["source_kind"], row["source"], row["checkpoint_id"], row["decoding_name"], numbers[no])
            assert key not in out, f"two records for {key}"
            out[key] = (int(rec[3:8]), float(rec[9:]) if rec[8] == "1" else None)
    return out


def assert_vectors_in_sync(store: Store) -> None:
    want = {(*k[:4], k[5]): (n, score) for k, (n, score) in expected_sides(store).items() if k[4] == 0}
    got = stored_vectors(store)
    assert got.keys() == want.keys()
    for key, (n, score) in want.items():
        assert got[key][0] == n and got[key][1] == pytest.approx(score, rel=1e-15)


@pytest.fixture
def syn(tmp_path):
    store = synthetic.build(tmp_path / "syn", n_examples=40, steps=(0, 400), decodings=("greedy",), tokens=False)
    yield store
    store.close()


def spans(n: int) -> list[Span]:
    return [Span(i, i + 1, "conflict", 0.9) for i in range(n)]


def test_compare_equals_a_recount_through_reruns_late_old_configs_and_deletes(syn):
    assert_vectors_in_sync(syn)
    assert_matches_recount(syn, LEX)
    b_gens = {g.example_id: g.id for g in syn.generations(checkpoint_id=B[0])}
    # re-runs: a newer configuration replaces the result (5 and 0 spans), an older one stored late changes nothing
    syn.add_detections([Detection(b_gens["ex-1"], "lexical", "rerun", spans(5), 0.99, created_at=2e10),
                        Detection(b_gens["ex-2"], "lexical", "rerun", [], 0.01, created_at=2e10),
                        Detection(b_gens["ex-3"], "lexical", "ancient", spans(9), 0.5, created_at=1.0)])
    assert_vectors_in_sync(syn)
    assert_matches_recount(syn, LEX)
    pairs = cmp._pairs(syn, A, B, LEX)
    ids = dict(syn.query("SELECT example_id, no FROM example_numbers"))
    at = {ex: list(pairs.numbers).index(ids[ex]) for ex in ("ex-1", "ex-2", "ex-3")}
    assert (pairs.b_spans[at["ex-1"]], pairs.b_scores[at["ex-1"]]) == (5, 0.99)
    assert (pairs.b_spans[at["ex-2"]], pairs.b_scores[at["ex-2"]]) == (0, 0.01)
    assert pairs.b_spans[at["ex-3"]] != 9
    # the newer configuration deleted: the older result counts again
    syn.delete_detections("lexical", "rerun")
    assert_vectors_in_sync(syn)
    assert_matches_recount(syn, LEX)
    # a side losing its detection of a prompt leaves the prompt out of the pairs
    with syn.transaction() as conn:
        conn.execute("DELETE FROM detections WHERE generation_id = ?", (b_gens["ex-4"],))
    assert_vectors_in_sync(syn)
    assert cmp.aggregate_deltas(syn, A, B, LEX)["n"] == 39
    assert_matches_recount(syn, LEX)


def test_compare_follows_new_generations_labels_and_moves(syn):
    new = [Generation(f"new-{ck}", "ex-0", ck, "Ada was born in Oslo.", {}, "greedy", 1) for ck in (A[0], B[0])]
    syn.add_generations(new)  # sample 1: never paired
    syn.add_detections([Detection(g.id, "lexical", "h", spans(3), 0.7) for g in new])
    assert_vectors_in_sync(syn)
    assert_matches_recount(syn, LEX)
    # labels: a done label counts, a skipped one does not, a deleted one leaves
    a_gens = {g.example_id: g.id for g in syn.generations(checkpoint_id=A[0])}
    b_gens = {g.example_id: g.id for g in syn.generations(checkpoint_id=B[0])}
    syn.add_labels([Label(a_gens["ex-5"], "oracle", []), Label(b_gens["ex-5"], "oracle", spans(4)),
                    Label(a_gens["ex-6"], "oracle", spans(2)), Label(b_gens["ex-6"], "oracle", [], status="skipped")])
    assert_vectors_in_sync(syn)
    assert_matches_recount(syn, ORACLE)
    syn.delete_label(b_gens["ex-5"], "oracle")
    assert_vectors_in_sync(syn)
    assert_matches_recount(syn, ORACLE)
    # a generation moved to another prompt takes its results with it
    with syn.transaction() as conn:
        conn.execute("DELETE FROM detections WHERE generation_id = ?", (b_gens["ex-7"],))
        conn.execute("UPDATE generations SET example_id = 'ex-7' WHERE id = ?", (b_gens["ex-8"],))
    assert_vectors_in_sync(syn)
    assert_matches_recount(syn, LEX)
    # ... and one renumbered to sample 1 leaves the pairs (Compare pairs sample 0)
    with syn.transaction() as conn:
        conn.execute("UPDATE generations SET sample_index = 1 WHERE id = ?", (b_gens["ex-9"],))
    assert_vectors_in_sync(syn)
    assert "ex-9" not in {r["example_id"] for kind in ("regressions", "fixes")
                          for r in cmp.ranked_changes(syn, A, B, LEX, kind, limit=100)}
    assert_matches_recount(syn, LEX)


def test_scores_round_trip_with_their_sign_and_null(tmp_path):
    """Record encoding: span counts and scores (negative, tiny, huge, NULL) decode to what side_scores holds."""
    store = Store(tmp_path / "ws")
    values = [0.0, 0.1, -2.5, 1e-7, 123456.789, 1e-120, 1e120, None, 0.30000000000000004]
    with store.transaction() as conn:
        for i, score in enumerate(values):
            for ck, n in ((A[0], i), (B[0], 2 * i)):
                conn.execute("INSERT INTO side_scores VALUES ('detector', 'x', ?, 'greedy', 0, ?, ?, ?, ?)",
                             (ck, f"e{i}", f"g{ck}{i}", n, score))
    pairs = cmp._pairs(store, A, B, ("detector", "x"))
    clamped = [0.0, 0.1, -2.5, 1e-7, 123456.789, 0.0, 9e99, None, 0.30000000000000004]
    ids = dict(store.query("SELECT no, example_id FROM example_numbers"))
    assert [ids[int(n)] for n in pairs.numbers] == [f"e{i}" for i in range(len(values))]
    assert pairs.a_spans.tolist() == list(range(len(values)))
    assert pairs.b_spans.tolist() == [2 * i for i in range(len(values))]
    for got, want in zip(pairs.a_scores.tolist(), clamped):
        assert (got != got) if want is None else got == pytest.approx(want, rel=1e-15, abs=0)
    agg = cmp.aggregate_deltas(store, A, B, ("detector", "x"))
    assert agg["a_score"] == pytest.approx(sum(v for v in clamped if v is not None) / 8)
    # a REPLACE on a connection without recursive triggers (no delete trigger) still leaves one record
    raw = sqlite3.connect(store.path)
    raw.execute("INSERT OR REPLACE INTO side_scores VALUES ('detector', 'x', ?, 'greedy', 0, 'e1', ?, 7, 0.5)",
                (A[0], f"g{A[0]}1"))
    raw.commit()
    raw.close()
    assert cmp._pairs(store, A, B, ("detector", "x")).a_spans.tolist()[1] == 7
    assert len(store.query("SELECT data FROM side_vectors WHERE checkpoint_id = ?", (A[0],))[0][0]) == 9 * 31
    store.close()


def test_a_schema_5_workspace_is_migrated_with_its_compare_numbers(tmp_path):
    """Migration 6 packs the existing side_scores: same deltas and rankings before and after."""
    old = synthetic.build(tmp_path / "syn", n_examples=25, steps=(0, 400), decodings=("greedy",), tokens=False)
    agg, regressions, fixes = recount(old, A, B, LEX)
    old.close()
    conn = sqlite3.connect(tmp_path / "syn" / "hallu.db")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND (name LIKE 'scores_%' "
                                "OR name LIKE 'log_%')").fetchall():  # migrations 9 and 10's triggers, then tables
        conn.execute(f"DROP TRIGGER {name}")
    conn.executescript("DROP TABLE change_log; DROP TABLE score_summary; DROP TRIGGER vectors_insert; "
                       "DROP TRIGGER vectors_delete; DROP TRIGGER vectors_update; DROP TABLE side_vectors; "
                       "DROP TABLE example_numbers; "
                       "ALTER TABLE jobs DROP COLUMN pid_started_at; ALTER TABLE labels DROP COLUMN selection; "
                       "ALTER TABLE labels DROP COLUMN assisted; DROP INDEX generations_shuffle; "
                       "DROP INDEX generations_checkpoint_shuffle; ALTER TABLE generations DROP COLUMN shuffle_key; "
                       "PRAGMA user_version = 5;")  # 7 to 11 added them
    conn.close()
    store = Store(tmp_path / "syn")
    assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS) >= 6
    assert_vectors_in_sync(store)
    got = cmp.changes(store, A, B, LEX, limit=100)
    assert got["aggregate"] == pytest.approx(agg)
    assert (as_rows(got["regressions"]), as_rows(got["fixes"])) == (regressions, fixes)
    store.close()


def test_a_page_cut_through_tied_rows_takes_them_by_prompt_id(tmp_path):
    """Equal span and score changes: the page boundary falls inside the tie, which the prompt id breaks."""
    store = Store(tmp_path / "ws")
    changes = {f"e{i:02d}": (i % 3, 0.5 if i % 2 else 0.25) for i in range(30)}  # (span change, score change)
    with store.transaction() as conn:
        for ex in sorted(changes, reverse=True):  # numbered against id order
            n, score = changes[ex]
            conn.execute("INSERT INTO side_scores VALUES ('detector', 'x', ?, 'greedy', 0, ?, ?, 1, 0.25)",
                         (A[0], ex, f"a-{ex}"))
            conn.execute("INSERT INTO side_scores VALUES ('detector', 'x', ?, 'greedy', 0, ?, ?, ?, ?)",
                         (B[0], ex, f"b-{ex}", 1 + n, 0.25 + score))
    want = sorted((ex for ex, (n, _) in changes.items() if n > 0),
                  key=lambda ex: (-changes[ex][0], -changes[ex][1], ex))
    for limit in (1, 4, 5, 6, 11, 19, 20, 40):
        got = [r["example_id"] for r in cmp.ranked_changes(store, A, B, ("detector", "x"), "regressions", limit=limit)]
        assert got == want[:limit]
    got = [r["example_id"] for r in cmp.ranked_changes(store, A, B, ("detector", "x"), "regressions", 3, offset=8)]
    assert got == want[8:11]
    store.close()
