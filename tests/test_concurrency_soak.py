"""Eight annotator processes saving, editing and deleting labels at once lose nothing.

The fast version of bench/soak_labels.py (which runs longer, with more annotators):
each process is one annotator working on the same generations for a few seconds, plus
a shared review label that all of them add spans to (read-modify-write). Afterwards
every label holds exactly its annotator's last edit, once, and no shared span is lost.
"""
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _soak():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # spawned workers inherit sys.path, so they find it too
    import soak_labels

    return soak_labels


def test_eight_annotators_at_once_keep_every_last_edit_exactly_once(tmp_path):
    result = _soak().run_soak(tmp_path / "ws", annotators=8, seconds=2.5, n_generations=30)
    assert result["exitcodes"] == [0] * 8
    assert result["journals"] == 8
    assert all(ops > 0 for ops in result["ops"].values()), result["ops"]
    assert result["label_writes"] > 100  # real contention, not eight processes taking turns
    assert result["labels_stored"] == result["labels_expected"]
    assert (result["lost"], result["wrong"], result["extra"], result["duplicates"]) == (0, 0, 0, 0)
    assert result["shared_spans_stored"] == result["shared_spans_written"] > 0
    assert result["integrity"] == "ok"


def test_verify_notices_a_lost_and_a_stale_label(tmp_path):
    """The check itself is not vacuous: a missing label and an older edit are both reported."""
    soak = _soak()
    store = soak.prepare(tmp_path / "ws", 3)
    from hallu_core.store.types import Label, Span

    store.save_label(Label("g000", "a", [Span(0, 5, "conflict", note="a seq 1")], "done", note="save 1"))
    journal = {"annotator": "a", "ops": {"save": 3, "edit": 0, "delete": 0, "shared_add": 0}, "shared": [],
               "expected": {"g000": {"spans": [[0, 5, "conflict", "a seq 2"]], "status": "done", "note": "save 2"},
                            "g001": {"spans": [], "status": "done", "note": "save 3"}}}
    result = soak.verify(store, [journal])
    assert (result["lost"], result["wrong"], result["extra"]) == (1, 1, 0)
