"""Word-level spans and record checks of the learned detector, on hand-written cases."""
import json

import numpy as np

from hallu_core.detection.detectors.learned import LearnedDetector
from hallu_core.detection.detectors.record import RECORD_FEATURES, record_features, record_vocab
from hallu_core.detection.detectors.text import words
from hallu_core.detection.detectors.units import Units, word_runs

from test_detectors_learned import make_items

RECORD = json.dumps({"name": "Taffy's", "attributes": {"Ambience": {"trendy": False, "casual": True},
                                                        "GoodForKids": None, "WiFi": "free"},
                     "review_info": [{"review_text": "Lovely crust, slow service."}]}, indent=2)


def test_record_features_flag_false_keys_review_words_and_absent_words():
    text = "A trendy, casual spot for kids with free WiFi and slow service and a jukebox."
    ws = words(text)
    x = {w.text: row for w, row in zip(ws, record_features(RECORD, ws))}
    col = {n: i for i, n in enumerate(RECORD_FEATURES)}
    assert x["trendy"][col["record_false_key"]] == 1 and x["casual"][col["record_false_key"]] == 0
    assert x["kids"][col["record_false_key"]] == 1  # GoodForKids is null
    assert x["slow"][col["record_review_only"]] == 1 and x["free"][col["record_review_only"]] == 0
    assert x["jukebox"][col["record_absent"]] == 1 and x["WiFi"][col["record_true_key"]] == 1


def test_record_features_are_zero_for_prose_and_broken_json():
    ws = words("Zoë’s café opened in 2031.")
    assert not record_features("Zoë runs a café.", ws).any()
    assert not record_features("{not json", ws).any()
    assert record_vocab("[1, 2]") is None
    assert record_features(RECORD, []).shape == (0, len(RECORD_FEATURES))


def _units(text):
    ws = words(text)
    content = np.array([w.text not in ("the", "in", "a") for w in ws])
    return Units([(0, len(text))], [(0, len(text))], np.zeros((1, 1)), np.zeros(1), "QA", text,
                 [(w.start, w.end) for w in ws], np.zeros((len(ws), 1)), np.zeros(len(ws), bool), content)


def test_word_runs_join_short_gaps_but_not_lines_and_keep_the_best_word():
    u = _units("Opened in the 1990 by Ann\nLee sells bread")
    probs = np.array([0.9, 0.1, 0.1, 0.8, 0.1, 0.7, 0.9, 0.1, 0.1])
    runs = word_runs(u, probs, 0.5)
    assert [u.text[s:e] for s, e, *_ in runs] == ["Opened in the 1990 by Ann", "Lee"]
    assert runs[0][3] == 0.9
    low = word_runs(u, np.array([0.1, 0.4, 0.45, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]), 0.5)
    assert [u.text[s:e] for s, e, *_ in low] == ["1990"]  # best content word, never a stopword
    assert word_runs(_units(""), np.zeros(0), 0.5) == []


def test_clause_granularity_and_per_task_gate_round_trip(tmp_path):
    items, golds = make_items()
    for config in ({"granularity": "clause"}, {"per_task_gate": True, "gate_cs": (0.01, 1.0)}):
        det = LearnedDetector(**config).fit(items, golds)
        results = det.detect(items[:6])
        assert sum(bool(r.spans) == bool(g) for r, g in zip(results, golds[:6])) >= 5
        det.save(tmp_path)
        again = LearnedDetector.load(tmp_path)
        assert again.config["granularity"] == det.config["granularity"]
        assert again.gate_c == det.gate_c and det.gate_c in det.config["gate_cs"]  # chosen inside fit
        assert [r.spans for r in again.detect(items[:6])] == [r.spans for r in results]
