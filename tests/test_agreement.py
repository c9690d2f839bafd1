"""Agreement between annotators and adjudication, checked against hand-computed values."""
from __future__ import annotations

import pytest

from hallu_core.labeling import agreement
from hallu_core.labeling.queue import LabelError
from hallu_core.store.types import Span
from helpers.labeling import build


def test_char_f1_by_hand():
    assert agreement.char_f1([], []) == 1.0
    assert agreement.char_f1([(0, 4)], []) == 0.0
    assert agreement.char_f1([(0, 4)], [(2, 6)]) == pytest.approx(2 * 2 / 8)
    # overlapping spans on one side count each character once
    assert agreement.char_f1([(0, 4), (2, 6)], [(0, 6)]) == 1.0


def test_cohen_kappa_by_hand():
    # 10 items: both yes 4, both no 3, a-only 2, b-only 1 -> po .7, pe .6*.5 + .4*.5 = .5, kappa .4
    a = [True] * 4 + [False] * 3 + [True] * 2 + [False]
    b = [True] * 4 + [False] * 3 + [False] * 2 + [True]
    assert agreement.cohen_kappa(a, b) == pytest.approx(0.4)
    assert agreement.cohen_kappa([True, True], [True, True]) == 1.0
    assert agreement.cohen_kappa([], []) is None


def test_agreement_on_workspace(store):
    build(store)
    got = agreement.agreement(store, "alice", "bob")
    # g1: alice [0,4) bob [0,2); g3: alice [5,10) bob none -> F1 = 2*2 / (4+2+5); kappa: po .5, pe .5 -> 0
    assert got["items"] == 2
    assert got["char_f1"] == pytest.approx(4 / 11)
    assert got["kappa"] == pytest.approx(0.0)
    table = agreement.agreement_table(store)
    assert [(r["a"], r["b"]) for r in table] == [("alice", "bob"), ("alice", "gold"), ("bob", "gold")]
    assert agreement.agreement(store, "alice", "nobody")["char_f1"] is None


def test_adjudication_stored_as_adjudicated(store):
    build(store)
    cands = agreement.candidate_spans(store, "g1")
    assert [((c["span"].start, c["span"].end), sorted(c["annotators"])) for c in cands] == \
        [((0, 2), ["bob"]), ((0, 4), ["alice", "gold"])]
    label = agreement.adjudicate(store, "g1", [cands[1]["span"], cands[1]["span"]], reviewer="rev")
    assert label.annotator == "adjudicated" and [(s.start, s.end) for s in label.spans] == [(0, 4)]
    assert "rev" in label.note
    assert agreement.agreement_table(store)[0]["a"] != "adjudicated"
    with pytest.raises(LabelError):
        agreement.adjudicate(store, "g1", [Span(0, 99, "conflict")])


def test_disagreements(store):
    build(store)
    rows = agreement.disagreements(store)
    assert [(r["generation_id"], r["disagreement"]) for r in rows] == [("g3", 1.0), ("g1", pytest.approx(1 / 3, abs=1e-5))]


def test_agreement_tells_blind_labels_from_assisted_ones(store):
    """Issue 22 item 3: labels made after revealing detector suggestions are counted apart."""
    from dataclasses import replace

    build(store)
    store.save_label(replace(store.get_label("g3", "bob"), assisted=True))  # bob had seen the suggestions on g3
    got = agreement.agreement(store, "alice", "bob")
    # blind: g1 only, alice [0,4) bob [0,2) -> 2*2 / 6; assisted: g3, alice [5,10) bob none -> 0
    assert got["blind"] == {"items": 1, "char_f1": pytest.approx(4 / 6), "kappa": 1.0}
    assert got["assisted"] == {"items": 1, "char_f1": 0.0, "kappa": 0.0}
    assert got["items"] == 2 and got["char_f1"] == pytest.approx(4 / 11)  # all items, as before
    assert agreement.agreement(store, "alice", "gold")["assisted"]["items"] == 0


def test_an_adjudicated_item_is_a_random_draw_only_when_each_annotator_drew_it_at_random(store):
    from hallu_core.labeling import queue as labeling

    build(store)  # g1..g4 labeled by alice, bob and gold, their choice not recorded
    for g in ("g2", "g3", "g4"):
        labeling.no_hallucination(store, g, "carol", selection="random")
    labeling.no_hallucination(store, "g4", "dave", selection="score")
    store.conn.execute("UPDATE labels SET selection = 'random' WHERE generation_id IN ('g2', 'g4') "
                       "AND annotator != 'dave'")
    selection = {g: agreement.adjudicate(store, g, []).selection for g in ("g2", "g3", "g4")}
    # g3: alice, bob and gold did not record how they chose it; g4: dave chose it by score (census stratum)
    assert selection == {"g2": "random", "g3": None, "g4": "score"}
    labeling.no_hallucination(store, "g2", "dave", selection="score")  # chosen on purpose after all
    assert agreement.adjudicate(store, "g2", []).selection == "score"  # adjudicated again: derived again
