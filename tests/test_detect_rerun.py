"""A detector re-run with an earlier config is the latest word again (issue 22): config A, then B, then A
shows A's results everywhere the pages read them, although the second A reuses what the first stored."""
from __future__ import annotations

import pytest

from hallu_core.detection.detect import run_detection
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Example, Generation, Run
from hallu_core.views import generation_list as gl, queries as q

from test_summary import assert_in_sync

# flag_words True (the default) also flags content words the source never states; False flags only values
A, B = {"flag_words": True}, {"flag_words": False}


@pytest.fixture
def ws(tmp_path):
    store = Store(tmp_path / "ws")
    store.add_run(Run("r", "run", "tiny"))
    for ck in ("c0", "c1"):
        store.add_checkpoint(Checkpoint(ck, "r", int(ck[1]), ck))
    store.add_examples([Example(f"e{i}", "d", f"Where was person {i} born?", f"Person {i} was born in Oslo.",
                                task="qa") for i in range(3)])
    store.add_generations([Generation(f"e{i}-{ck}", f"e{i}", ck, f"Person {i} was born in Oslo, a lovely harbour.",
                                      {}, "greedy") for i in range(3) for ck in ("c0", "c1")])
    yield store
    store.close()


def spans_shown(store: Store, gid: str) -> list[tuple]:
    """What Inspect's detail shows of the lexical detector's spans."""
    return sorted((s["start"], s["end"], s["type"]) for s in gl.detail_spans(gl.generation_detail(store, gid),
                                                                            ["lexical"]))


def flagged_rate(store: Store) -> float:
    rows = q.hallucination_rates(store, [("detector", "lexical")], by_decoding=False)
    return sum(r["positive"] for r in rows) / sum(r["n"] for r in rows)


def test_a_config_run_again_after_another_is_the_latest_again(ws):
    first = run_detection(ws, "lexical", config=A)
    assert first["detected"] == 6 and first["flagged"] == 6
    a_spans = spans_shown(ws, "e0-c0")
    assert a_spans and flagged_rate(ws) == 1.0

    second = run_detection(ws, "lexical", config=B)
    assert second["config_hash"] != first["config_hash"] and second["detected"] == 6
    assert spans_shown(ws, "e0-c0") == [] and flagged_rate(ws) == 0.0

    again = run_detection(ws, "lexical", config=A)
    assert again["config_hash"] == first["config_hash"]
    assert spans_shown(ws, "e0-c0") == a_spans
    assert (again["detected"], again["reused"]) == (0, 6)  # nothing detected anew: the stored results are reused
    assert flagged_rate(ws) == 1.0
    assert [d.config_hash for d in ws.latest_detections("e2-c1")] == [first["config_hash"]]
    assert gl.count_generations(ws, gl.GenerationFilter(detector="lexical", flagged=True)) == 6
    assert_in_sync(ws)  # every derived table (summary, newest rows, Compare's sides) equals a recount

    # a run again with the config that is already the latest changes nothing
    assert run_detection(ws, "lexical", config=A)["reused"] == 0


def test_a_rerun_on_one_checkpoint_moves_only_that_checkpoints_results(ws):
    run_detection(ws, "lexical", config=A)
    run_detection(ws, "lexical", config=B)
    again = run_detection(ws, "lexical", config=A, checkpoint_ids=["c1"])
    assert spans_shown(ws, "e0-c1") and spans_shown(ws, "e0-c0") == []
    assert again["reused"] == 3
    assert_in_sync(ws)


def test_the_rerun_wins_over_a_result_stamped_in_the_future(ws):
    """A clock set back between the runs: the rerun's results still become the latest."""
    hash_a = run_detection(ws, "lexical", config=A)["config_hash"]
    run_detection(ws, "lexical", config=B)
    with ws.transaction() as conn:
        conn.execute("UPDATE detections SET created_at = created_at + 86400 WHERE config_hash != ?", (hash_a,))
    run_detection(ws, "lexical", config=A)
    assert {d.config_hash for g in ("e0-c0", "e1-c1") for d in ws.latest_detections(g)} == {hash_a}
    assert_in_sync(ws)
