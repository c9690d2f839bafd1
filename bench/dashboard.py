"""Dashboard speed on a big workspace: median server-side time of each page's data access and render.

Builds (once, cached in --workspace) a synthetic workspace of 100,000 examples x 5
checkpoints with detector spans, oracle labels and token confidences (a workspace built
by an older Hallu is migrated on open), then for each page runs it under
streamlit.testing.v1.AppTest (the whole script: queries, figures, HTML, protos: everything
the server does for a page view) with empty caches ("cold") and again with warm
`st.cache_data` ("warm"), and times the page's queries on their own. One untimed run per
page first imports what the page needs (plotly, ...), as a running server already has.
Compare runs twice: with the default judge (the oracle's labels here) and with a detector
chosen through the link (?judge=lexical).
The last stdout line is one JSON object.

    .venv/bin/python bench/dashboard.py [--examples 100000] [--repeats 5] [--workspace DIR]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hallu_core.views import compare as cmp, generation_list as gl, queries as q, rates  # noqa: E402
from hallu_core.data import synthetic  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402


def build(root: Path, n: int) -> Store:
    marker = root / f"bench-{n}.done"
    if marker.exists():
        return Store(root)
    t = time.perf_counter()
    store = synthetic.build(root, n_examples=n, steps=(0, 100, 200, 300, 400), decodings=("greedy",))
    marker.write_text(f"{time.perf_counter() - t:.1f}")
    return store


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def page_queries(store: Store) -> dict:
    """The queries each page makes on open (cold), as callables."""
    ckpts = q.checkpoints(store)
    a, b = (ckpts[0]["checkpoint_id"], "greedy"), (ckpts[-1]["checkpoint_id"], "greedy")
    src, labels = ("detector", "lexical"), ("labels", "oracle")
    gid = gl.generation_id_at(store, gl.GenerationFilter(), "newest", 0)
    flt = gl.GenerationFilter(detector="lexical", span_types=("conflict",), min_score=0.7)
    return {
        "overview": lambda: (q.overview(store), rates.judge_rates(store, labels, by_knowledge=True),
                             q.checkpoints(store)),
        "runs": lambda: (q.runs(store), rates.run_rates(store, "run-synth"),
                         q.metric_points(store, "run-synth"), rates.run_rates(store, "run-synth", by_knowledge=True)),
        "inspect": lambda: (gl.count_generations(store), gl.list_generations(store, page_size=25),
                            gl.generation_detail(store, gid)),
        "inspect_filtered_by_score": lambda: (gl.count_generations(store, flt),
                                              gl.list_generations(store, flt, "score (high first)", 10, 25)),
        "compare": lambda: (cmp.changes(store, a, b, src, limit=100), rates.judge_rates(store, src),
                            rates.paired_rates(store, src, a, b), cmp.shared_examples(store, [a, b], limit=200)),
        # judged by labels (the default judge when the scope has them): a third of the prompts carry oracle labels
        "compare_by_labels": lambda: (cmp.changes(store, a, b, labels, limit=100), rates.judge_rates(store, labels),
                                      rates.paired_rates(store, labels, a, b),
                                      cmp.shared_examples(store, [a, b], limit=200)),
    }


def app_pages(root: Path, repeats: int) -> dict:
    os.environ["HALLU_WORKSPACE"] = str(root)
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    gid = gl.generation_id_at(Store(root), gl.GenerationFilter(), "newest", 0)
    views = {"overview": ("overview", {}), "runs": ("runs", {}), "inspect": ("inspect", {"generation": gid}),
             "compare": ("compare", {}),  # the default judge: the oracle's labels here
             "compare_by_detector": ("compare", {"judge": "lexical"})}  # a detector chosen (?judge=)
    out = {}
    for name, (page, params) in views.items():
        def run(page=page, params=params, name=name):
            at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
            at.switch_page(f"pages/{page}.py")
            for key, value in params.items():
                at.query_params[key] = value
            at.run()
            if at.exception:
                raise RuntimeError(f"{name}: {at.exception[0].value}")
            if params.get("judge") and not any(params["judge"] in str(s.value) for s in at.selectbox):
                raise RuntimeError(f"{name}: the page did not take ?judge={params['judge']}")
        run()  # untimed: module imports, not data access
        cold = []
        for _ in range(repeats):
            st.cache_data.clear()
            t = time.perf_counter()
            run()
            cold.append(time.perf_counter() - t)
        warm = timed(run, repeats)
        # the minimum too: on shared cores a median of 3 can be one other process's burst
        out[name] = {"cold_s": round(statistics.median(cold), 3), "cold_min_s": round(min(cold), 3),
                     "warm_s": round(warm, 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workspace", default=str(Path(tempfile.gettempdir()) / "hallu-bench-dashboard"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    root = Path(args.workspace)
    t = time.perf_counter()
    store = build(root, args.examples)
    build_s = time.perf_counter() - t
    counts = store.counts()
    print(f"workspace {root}: {counts['generations']:,} generations, {counts['detections']:,} detections, "
          f"{counts['labels']:,} labels ({build_s:.1f} s to open or build)", file=sys.stderr)
    query_s = {name: round(timed(fn, args.repeats), 3) for name, fn in page_queries(store).items()}
    print(f"queries (median s): {query_s}", file=sys.stderr)
    pages = app_pages(root, args.repeats)
    print(f"pages (median s): {pages}", file=sys.stderr)
    print(json.dumps({"bench": "dashboard", "examples": counts["examples"], "checkpoints": counts["checkpoints"],
                      "generations": counts["generations"], "detections": counts["detections"],
                      "labels": counts["labels"], "repeats": args.repeats, "open_or_build_s": round(build_s, 1),
                      "query_median_s": query_s, "page_median_s": pages, "cpu_count": os.cpu_count(),
                      "loadavg": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
