"""Peer support on the RAGTruth dev slice's tuning part: does judging a response against the other
models' responses to the same source (its `samples`) improve `default`'s flags and spans?

Everything is out of fold on the tuning part, as bench/default_choice.py measures routes (the lockbox
is never loaded): `learned_builtin` scores each tuning fold with a model trained on the other folds
plus `--train-extra` rows, and default's map is cross-fitted over the same folds. Measured:

- `routes`: the shipped routes, then each task's route with its response score taken against its
  peers' median (the route option `relative_to_peers`, peers.py), the map fitted over all tasks
  together as the shipped one is;
- `choice`: default_choice.choose with and without peer-scored candidates (what
  `eval_ragtruth.py --choose-routes [--peer-scores]` would pick; nothing is written here);
- `auc`: each task's response-score AUC plain and against peers, with a 95% interval of the
  difference from 2000 bootstrap draws of whole sources, and per tuning fold;
- `span_filter`: a span filter tried and not shipped: drop a span when its content words are on
  average stated by at least share `cut` of the peers. Span P/R/F1 of every member span (no
  operating point), and default's figures with the filter on each task's span source.

    HF_HUB_OFFLINE=1 python bench/peer_support.py --train-extra ../shared/data/ragtruth_qa_train.jsonl \
        [--cache /tmp/hallu-bench]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hallu_core import set_process_defaults  # noqa: E402

set_process_defaults()  # before torch is first imported, as the CLI and jobs do

import default_choice as dc  # noqa: E402
from eval_ragtruth import DATA, dev_units, extra_rows, learned_member  # noqa: E402

from hallu_core.detection.detectors import get_detector  # noqa: E402
from hallu_core.detection.detectors.base import DetectResult  # noqa: E402
from hallu_core.detection.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detection.detectors.lexical import support_vocab, tag_words  # noqa: E402
from hallu_core.detection.detectors.operating import auc  # noqa: E402
from hallu_core.detection.detectors.routed import load_routes, parse_route  # noqa: E402
from hallu_core.detection.detectors.span_split import load_split  # noqa: E402
from hallu_core.detection.metrics import span_prf  # noqa: E402

TASKS = ("QA", "Summary", "Data2txt")
CUTS = (0.3, 0.5, 0.7)


def members_on_tuning(args):
    keep = set(load_split()["tuning"])
    rows = [r for r in read_records(args.data) if r.source_id in keep]  # lockbox rows dropped on reading
    items, golds = items_from_records(rows), [gold_spans(r) for r in rows]
    members = {}
    for name in ("lexical", "record"):
        detector = get_detector(name)
        detector.operate = False  # as default's members run
        members[name] = detector.detect(items)
    units = dev_units(args.cache, args.data, rows, items)
    members["learned_builtin"] = learned_member(rows, units, golds, extra_rows(args.cache, args.train_extra)[1], False)
    return rows, items, golds, [r.task for r in rows], members


def peer_share(text: str, vocabs: list[set[str]]) -> float:
    norms = [w.norm for w in tag_words(text)]
    if not norms or not vocabs:
        return 0.0
    return float(np.mean([np.mean([n in v for v in vocabs]) for n in norms]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--train-extra", action="append", default=[])
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args()
    rows, items, golds, tasks, members = members_on_tuning(args)
    outputs, peers = [it.output for it in items], dc.peers_of(rows)
    shipped = {t: r for t, r in load_routes().items() if t in TASKS}

    def raw_of(route_of_task: dict, mem: dict = members) -> list:
        return dc.routed({t: parse_route(t, r) for t, r in route_of_task.items()}, mem, outputs, tasks, peers)

    def figures_of(route_of_task: dict, mem: dict = members, raw: list | None = None) -> dict:
        raw = raw or raw_of(route_of_task, mem)
        return dc.figures(dc.cross_fitted(raw, golds, tasks, rows), golds, tasks, raw)

    against = {t: {**shipped[t], "relative_to_peers": True} for t in TASKS}
    raw = {"shipped": raw_of(shipped), **{t: raw_of({**shipped, t: against[t]}) for t in TASKS}}
    out = {"rows": len(rows), "routes": {"shipped": figures_of(shipped, raw=raw["shipped"])}}
    for t in TASKS:
        out["routes"][f"{t} against peers"] = figures_of({**shipped, t: against[t]}, raw=raw[t])
    out["routes"]["QA and Summary against peers"] = figures_of({**shipped, "QA": against["QA"],
                                                                "Summary": against["Summary"]})
    out["choice"] = {}
    for peer_scores in (False, True):
        chosen = dc.choose(members, golds, tasks, outputs, rows, peer_scores)
        out["choice"][f"peer_scores={peer_scores}"] = {"picked": chosen["picked"], "cv": chosen["cv_of_chosen"]}

    rng, folds = np.random.default_rng(0), dc.folds_of(rows)
    out["auc"] = {}
    for t in TASKS:
        plain, relative = raw["shipped"], raw[t]  # each row's result under its task's route
        idx = [i for i, task in enumerate(tasks) if task == t]
        y = np.array([bool(golds[i]) for i in idx])
        a, b = (np.array([res[i].response_score for i in idx]) for res in (plain, relative))
        by_source = {}
        for k, i in enumerate(idx):
            by_source.setdefault(rows[i].source_id, []).append(k)
        sources, diffs = sorted(by_source), []
        for _ in range(2000):
            ks = [k for s in rng.choice(sources, len(sources)) for k in by_source[s]]
            if 0 < y[ks].sum() < len(ks):
                diffs.append(auc(b[ks], y[ks]) - auc(a[ks], y[ks]))
        per_fold = [[k for k, i in enumerate(idx) if rows[i].source_id in held] for held in folds]
        out["auc"][t] = {"plain": round(auc(a, y), 3), "against_peers": round(auc(b, y), 3),
                         "difference_95": [round(float(x), 3) for x in np.percentile(diffs, [2.5, 97.5])],
                         "per_fold": [[round(auc(a[f], y[f]), 3), round(auc(b[f], y[f]), 3)] for f in per_fold]}

    vocabs = [[support_vocab(s) for s in it.samples] for it in items]

    def filtered(member: str, task: str, cut: float) -> list:
        return [DetectResult([s for s in r.spans if peer_share(outputs[i][s.start:s.end], vocabs[i]) < cut],
                             r.response_score) if tasks[i] == task else r for i, r in enumerate(members[member])]
    out["span_filter"] = {}
    for t, member in (("QA", "learned_builtin"), ("QA", "lexical"), ("Summary", "lexical"), ("Data2txt", "record")):
        idx = [i for i, task in enumerate(tasks) if task == t]
        line = {}
        for cut in (None, *CUTS):
            spans = members[member] if cut is None else filtered(member, t, cut)
            f = span_prf([spans[i].spans for i in idx], [golds[i] for i in idx])
            line[f"cut {cut}"] = [round(100 * f[k], 1) for k in ("precision", "recall", "f1")]
        out["span_filter"][f"{t} {member} (every span: P/R/F1)"] = line
    for t in TASKS:
        member = shipped[t]["spans"][0]
        out["span_filter"][f"default, {t} filtered at cut 0.5"] = figures_of(
            shipped, {**members, member: filtered(member, t, 0.5)})[t]
    dc.print_figures(out["routes"])
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
