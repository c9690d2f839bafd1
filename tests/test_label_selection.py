"""How labeled items were chosen (issue 21 item 1) and blind labeling (issue 22 item 3), in the core:
the random queue order, the `selection` and `assisted` recorded with each label, grouped detector
suggestions, on the hand-computed workspace of helpers/labeling.py."""
from __future__ import annotations

import pytest

from hallu_core.labeling import queue as labeling, suggestions
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Label, Run, Span
from helpers.labeling import build


@pytest.fixture
def ws(store):
    build(store)
    return store


def ids(rows) -> list[str]:
    return [r["generation_id"] for r in rows]


def test_the_random_order_is_a_fixed_shuffle_with_unfinished_items_first(ws):
    first = ids(labeling.queue(ws, "carol", "random"))
    assert sorted(first) == ["g1", "g2", "g3", "g4"]
    assert ids(labeling.queue(ws, "carol", "random")) == first  # the same after a reload
    assert ids(labeling.queue(ws, "dave", "random")) == first  # and for every annotator
    labeling.mark_done(ws, first[0], "carol")
    now = first[1:] + first[:1]  # finished: last
    assert ids(labeling.queue(ws, "carol", "random")) == now
    assert ids(labeling.queue(ws, "carol", "random", checkpoint_id="ckB")) == [g for g in now if g in ("g3", "g4")]


def _outputs(store, ids, checkpoint="ck"):
    store.add_examples([Example(f"e{i}", "d", "p") for i in ids])
    store.add_generations(Generation(str(i), f"e{i}", checkpoint, "text") for i in ids)


def random_ids(store, **scope) -> list[int]:
    return [int(g) for g in ids(labeling.queue(store, "carol", "random", limit=5000, **scope))]


def test_the_random_order_is_not_the_storage_order_and_outputs_added_later_do_not_reorder_it(store):
    store.add_run(Run("r", "run", "tiny"))
    store.add_checkpoint(Checkpoint("ck", "r", 1, "step-1"))
    _outputs(store, range(2000))  # sequential ids, as imported files give
    shuffled = random_ids(store)
    assert sorted(shuffled) == list(range(2000))
    first_half = sum(i < 1000 for i in shuffled[:200])  # a fair draw takes about half from each half
    assert 70 < first_half < 130
    assert store.query("SELECT COUNT(DISTINCT shuffle_key) FROM generations")[0][0] > 1990  # no runs of equal keys
    _outputs(store, range(2000, 2500))
    assert [i for i in random_ids(store) if i < 2000] == shuffled
    # the storage order plays no part, and a run's or a checkpoint's queue is the same order narrowed
    store.add_checkpoint(Checkpoint("ck2", "r", 2, "step-2"))
    _outputs(store, list(reversed(range(2500, 3000))), checkpoint="ck2")
    both = random_ids(store, run_id="r")
    assert both == random_ids(store) and len(both) == 3000
    assert random_ids(store, checkpoint_id="ck2") == [i for i in both if i >= 2500]
    assert random_ids(store, run_id="r", checkpoint_id="ck2") == [i for i in both if i >= 2500]
    assert labeling.queue(store, "carol", "random", run_id="r", limit=7) == labeling.queue(store, "carol", "random")[:7]


def test_the_action_that_creates_a_label_records_how_its_item_was_chosen(ws):
    labeling.add_span(ws, "g2", "carol", 0, 2, "conflict", selection="random")
    labeling.mark_done(ws, "g2", "carol", selection="link")  # a later visit does not rewrite it
    assert ws.get_label("g2", "carol").selection == "random"
    labeling.no_hallucination(ws, "g3", "carol", selection="score")
    labeling.skip(ws, "g4", "carol", selection="link")
    assert [ws.get_label(g, "carol").selection for g in ("g3", "g4")] == ["score", "link"]
    labeling.mark_done(ws, "g1", "carol")  # made without saying (a script): not recorded
    assert ws.get_label("g1", "carol").selection is None
    with pytest.raises(labeling.LabelError, match="unknown selection"):
        labeling.no_hallucination(ws, "g1", "erin", selection="hunch")


def test_revealing_suggestions_is_recorded_with_the_label(ws):
    assert ws.get_label("g1", "carol") is None
    label = suggestions.reveal(ws, "g1", "carol", selection="random")
    assert (label.status, label.assisted, label.selection, label.spans) == ("draft", True, "random", [])
    labeling.add_span(ws, "g1", "carol", 0, 2, "conflict")
    labeling.mark_done(ws, "g1", "carol")
    assert ws.get_label("g1", "carol").assisted  # kept once true
    ws.add_labels([Label("g1", "carol", [], "done")])  # a re-import cannot make it blind again
    assert ws.get_label("g1", "carol").assisted
    labeling.mark_done(ws, "g2", "dave")
    assert not ws.get_label("g2", "dave").assisted
    suggestions.accept_detector_span(ws, "g4", "dave", "det", Span(0, 10, "baseless", 0.6))
    assert ws.get_label("g4", "dave").assisted  # accepting a suggestion means having seen it


def test_identical_suggestions_show_once_naming_every_detector(ws):
    ws.add_detections([Detection("g4", "lexical", "h9", [Span(0, 10, "baseless", 0.8), Span(0, 3, "baseless", 0.4)],
                                 0.8)])
    offers = suggestions.suggestions(ws, "g4", "carol")
    assert [(o["span"].start, o["span"].end, o["detectors"], o["span"].score) for o in offers] == \
        [(0, 3, ["lexical"], 0.4), (0, 10, ["det", "lexical"], 0.8)]
    label = suggestions.accept_detector_span(ws, "g4", "carol", offers[1]["detectors"], offers[1]["span"])
    assert [(s.start, s.end, s.detector) for s in label.spans] == [(0, 10, "det, lexical")]
    assert labeling.decisions(ws, "g4", "carol") == {("det", 0, 10): "accepted", ("lexical", 0, 10): "accepted"}
    assert [o["decision"] for o in suggestions.suggestions(ws, "g4", "carol")] == [None, "accepted"]


def test_imported_labels_are_recorded_as_imported(store, tmp_path):
    from hallu_core.data.io import import_file

    rows = ['{"id": "r1", "source": "s", "response": "abcdef", "model": "m", "labels": []}',
            '{"id": "r2", "source": "s", "response": "abcdef", "model": "m", '
            '"labels": [{"start": 0, "end": 2, "label_type": "Evident Conflict"}]}',
            '{"id": "r3", "source": "s", "response": "abcdef", "model": "m"}']
    path = tmp_path / "rag.jsonl"
    path.write_text("\n".join(rows), encoding="utf-8")
    import_file(store, path)
    labels = {lab.generation_id: (bool(lab.spans), lab.selection) for lab in store.labels(annotator="gold")}
    assert labels == {"r1": (False, "import"), "r2": (True, "import")}  # r3 came without labels: none


def test_a_workspace_of_the_previous_schema_gets_its_imported_gold_marked_as_imported(tmp_path):
    from helpers.schema import database_at_schema

    from hallu_core.store.database import Store

    root = tmp_path / "v7"
    conn = database_at_schema(root, 7)
    conn.execute("INSERT INTO examples VALUES ('e', 'd', 'p', NULL, NULL, 'qa', '{}')")
    for run, kind in (("imp", "import"), ("ft", "finetune")):
        conn.execute("INSERT INTO runs VALUES (?, ?, 'm', ?, '{}', 'done', '{}', 1)", (run, run, kind))
        conn.execute("INSERT INTO checkpoints VALUES (?, ?, 0, 'c', NULL, '{}', 1)", (f"c-{run}", run))
        conn.execute("INSERT INTO generations VALUES (?, 'e', ?, 'text', '{}', 'greedy', 0, '[]', '{}', 1)",
                     (f"g-{run}", f"c-{run}"))
        for annotator in ("gold", "ann"):
            conn.execute("INSERT INTO labels VALUES (?, ?, '[]', 0, 'done', '', 1, 1)", (f"g-{run}", annotator))
    conn.close()
    store = Store(root)
    assert {(lab.generation_id, lab.annotator): lab.selection for lab in store.labels()} == {
        ("g-imp", "gold"): "import", ("g-imp", "ann"): None, ("g-ft", "gold"): None, ("g-ft", "ann"): None}
    assert not any(lab.assisted for lab in store.labels())
    store.close()


def test_a_workspace_of_schema_10_gets_its_outputs_random_keys_and_keeps_its_random_order(tmp_path):
    from helpers.schema import database_at_schema

    from hallu_core.store.database import Store
    from hallu_core.store.shuffle import shuffle_key

    root = tmp_path / "v10"
    conn = database_at_schema(root, 10)
    conn.execute("INSERT INTO runs VALUES ('r', 'r', 'm', 'finetune', '{}', 'done', '{}', 1)")
    conn.execute("INSERT INTO checkpoints VALUES ('c', 'r', 0, 'c', NULL, '{}', 1)")
    for i in range(300):
        conn.execute("INSERT INTO examples VALUES (?, 'd', 'p', NULL, NULL, 'qa', '{}')", (f"e{i}",))
        conn.execute("INSERT INTO generations VALUES (?, ?, 'c', 'text', '{}', 'greedy', 0, '[]', '{}', 1)",
                     (f"g{i}", f"e{i}"))
    conn.close()
    store = Store(root)
    keys = dict(store.query("SELECT id, shuffle_key FROM generations"))
    assert keys == {f"g{i}": shuffle_key(f"g{i}") for i in range(300)}
    # the keys the order had before they were stored (a changed hash would reorder every workspace's queue)
    assert (shuffle_key("17"), shuffle_key("g0")) == (3221728748, 1149109133)
    # the order the queue gave before the keys were stored: every id hashed, then sorted by key
    assert ids(labeling.queue(store, "carol", "random")) == sorted(keys, key=keys.get)
    store.close()


def test_an_output_written_by_another_tool_without_a_key_is_found_and_mended_by_repair(store):
    from hallu_core.store.repair import repair

    store.add_run(Run("r", "run", "tiny"))
    store.add_checkpoint(Checkpoint("ck", "r", 1, "step-1"))
    _outputs(store, range(50))
    with store.transaction() as conn:  # a raw write, as a script with sqlite3 would do
        conn.execute("INSERT INTO examples VALUES ('raw', 'd', 'p', NULL, NULL, '', '{}')")
        conn.execute("INSERT INTO generations (id, example_id, checkpoint_id, text, created_at) "
                     "VALUES ('999', 'raw', 'ck', 'text', 1)")
    before, after = repair(store)
    assert before["generations.shuffle_key"] == 1 and not any(after.values())
    _outputs(store, [1000])  # one stored after the repair gets its key too
    order = random_ids(store)
    keys = dict(store.query("SELECT id, shuffle_key FROM generations"))
    assert order == sorted(map(int, keys), key=lambda i: keys[str(i)])
