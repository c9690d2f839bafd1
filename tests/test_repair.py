"""`hallu repair` (issue 22): every derived table rebuilt from the base tables and checked against a recount.

The recounts these tests compare with are the Python ones of test_summary.py and test_compare_vectors.py,
not repair.py's SQL: a mistake in either side shows."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from hallu_core.cli.main import main
from hallu_core.data import synthetic
from hallu_core.store import repair, schema
from hallu_core.store.database import Store
from hallu_core.store.types import Detection, Label, Span

from test_compare_vectors import assert_vectors_in_sync
from test_summary import assert_in_sync

# one raw write per derived table, as a write that bypassed the triggers on the base tables would leave it
CORRUPTIONS = {
    "example_knowledge": "UPDATE example_knowledge SET knowledge = 'new' WHERE example_id IN "
                         "(SELECT example_id FROM example_knowledge LIMIT 3)",
    "generation_summary": "UPDATE generation_summary SET generations = generations + 7",
    "source_summary": "DELETE FROM source_summary WHERE source_kind = 'detector'",
    "detection_latest": "DELETE FROM detection_latest WHERE (generation_id, detector) IN "
                        "(SELECT generation_id, detector FROM detection_latest LIMIT 5)",
    "side_scores": "UPDATE side_scores SET n_spans = n_spans + 1 WHERE source_kind = 'labels'",
    "example_numbers": "DELETE FROM example_numbers WHERE no IN (SELECT no FROM example_numbers LIMIT 2)",
    # a record of a slot no prompt has (the 31-character layout of side_vectors.py)
    "side_vectors": "UPDATE side_vectors SET data = data || '|9900001' || '1+5.000000000000000e-01' WHERE chunk = 0",
    "score_summary": "UPDATE score_summary SET score_sum = score_sum + 0.5",
}


@pytest.fixture
def ws(tmp_path):
    store = synthetic.build(tmp_path / "ws", n_examples=20, steps=(0, 100), decodings=("greedy",), tokens=False)
    gid = store.generations(checkpoint_id="ckpt-100")[0].id
    # a re-run with another config (the newest counts) and an older config stored late (changes nothing)
    store.add_detections([Detection(gid, "lexical", "rerun", [Span(0, 3, "conflict", 0.9)], 0.9, created_at=2e10),
                          Detection(gid, "lexical", "ancient", [], 0.1, created_at=1.0)])
    store.add_labels([Label(gid, "ann", [Span(0, 3, "baseless")]),
                      Label(store.generations(checkpoint_id="ckpt-0")[1].id, "ann", [], status="draft")])
    yield store
    store.close()


def all_tables(store: Store) -> set[str]:
    return {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table' "
                                      "AND name NOT LIKE 'sqlite_%'")}


def test_every_table_is_either_written_by_users_or_rebuilt_and_checked(store):
    """A table a migration adds must be named base or derived; a derived one rebuilt and recounted."""
    assert set(schema.BASE) | set(schema.DERIVED) | set(schema.LOGS) == all_tables(store)
    assert len(schema.BASE) + len(schema.DERIVED) + len(schema.LOGS) == len(all_tables(store))  # no table twice
    assert sorted(repair.CHECKED) == sorted(schema.DERIVED)


@pytest.mark.parametrize("table", schema.DERIVED)
def test_rebuild_restores_each_derived_table(ws, table):
    with ws.transaction() as conn:
        conn.execute(CORRUPTIONS[table])
    assert repair.differences(ws)[table] > 0  # the recount sees it
    schema.rebuild(ws)
    assert_in_sync(ws)
    assert_vectors_in_sync(ws)
    assert not any(repair.differences(ws).values())


def test_hallu_repair_fixes_a_corrupted_workspace_and_says_what_it_fixed(ws):
    with ws.transaction() as conn:
        for corruption in CORRUPTIONS.values():
            conn.execute(corruption)
    with pytest.raises(AssertionError):
        assert_in_sync(ws)
    result = CliRunner().invoke(main, ["repair", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    for table in schema.DERIVED:
        assert f"{table}: " in result.output and "rebuilt" in result.output
    assert "every derived table agrees with a recount" in result.output
    assert_in_sync(ws)
    assert_vectors_in_sync(ws)
    # the triggers are back: the next write keeps every table right
    ws.add_detections([Detection(ws.generations(checkpoint_id="ckpt-0")[0].id, "lexical", "later", [], 0.2)])
    assert_in_sync(ws)
    assert_vectors_in_sync(ws)
    again = CliRunner().invoke(main, ["repair", "-w", str(ws.root)])
    assert again.exit_code == 0 and "(nothing needed fixing)" in again.output


def test_hallu_repair_exits_non_zero_naming_what_still_disagrees(ws, monkeypatch):
    with ws.transaction() as conn:
        conn.execute(CORRUPTIONS["source_summary"])
    monkeypatch.setattr(schema, "rebuild", lambda store: None)  # a rebuild that fixes nothing
    result = CliRunner().invoke(main, ["repair", "-w", str(ws.root)])
    assert result.exit_code == 1
    assert "still differ" in result.output and "source_summary (" in result.output
