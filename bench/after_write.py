"""Server-side cost of a page's first view after a labeler's write, on a big workspace.

After one label saved again (the first `oracle` label, as a labeler's save would), each page's script runs
under streamlit.testing.v1.AppTest (warm process, caches as a running server keeps them): the server's
part of what bench/browser_pages.py --after-write times in Chromium. Then, in this process, the Detectors
page's kept counts (detection/live_counts.py) of one detector: the first read, a refresh with nothing
changed, a refresh after one relabel, and what the kept counts hold (tracemalloc); and Compare's paired
rate between the first and last checkpoint; the Label page's random queue (whole workspace, a run, a
checkpoint). Medians of --repeats. The last stdout line is one JSON object.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/after_write.py --workspace DIR [--repeats 3] [--detector lexical]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hallu_core.detection.live_counts import LiveCounts  # noqa: E402
from hallu_core.labeling import queue as labeling  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402
from hallu_core.views import queries  # noqa: E402
from hallu_core.views.rates import paired_rates  # noqa: E402

PAGES = ("overview", "runs", "inspect", "compare", "label", "detectors")


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--detector", default="lexical", help="whose kept counts are timed")
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    os.environ["HALLU_WORKSPACE"] = args.workspace
    from streamlit.testing.v1 import AppTest

    store = Store(args.workspace)
    gid = store.query("SELECT generation_id FROM labels WHERE annotator = 'oracle' LIMIT 1")[0][0]

    def write() -> None:
        store.save_label(store.get_label(gid, "oracle"))

    def page(name: str) -> None:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
        at.switch_page(f"pages/{name}.py")
        at.run()
        if at.exception:
            raise RuntimeError(f"{name}: {at.exception[0].value}")

    out = {}
    for name in PAGES:
        page(name)  # untimed: imports and the caches a running server has
        times = []
        for _ in range(args.repeats):
            write()
            times.append(seconds(lambda: page(name)))
        out[name] = round(statistics.median(times), 2)
    print(f"page scripts after a write (median s): {out}", file=sys.stderr)

    live = LiveCounts(args.detector, "oracle")
    first = seconds(lambda: live.counts(store))
    tracemalloc.start()  # a second copy, for what the kept counts hold (tracing slows the read down)
    kept = LiveCounts(args.detector, "oracle")
    kept.counts(store)
    kept_mb = tracemalloc.get_traced_memory()[0] / 2 ** 20  # while `kept` holds them
    del kept
    tracemalloc.stop()
    unchanged = statistics.median(seconds(lambda: live.counts(store)) for _ in range(args.repeats))
    relabel = []
    for _ in range(args.repeats):
        write()
        relabel.append(seconds(lambda: live.counts(store)))
    ckpts = queries.checkpoints(store)
    a, b = (ckpts[0]["checkpoint_id"], "greedy"), (ckpts[-1]["checkpoint_id"], "greedy")
    paired = []
    for _ in range(args.repeats):
        write()
        paired.append(seconds(lambda: paired_rates(store, ("detector", args.detector), a, b)))
    run = ckpts[0]["run_id"]
    queue_s = {scope: round(statistics.median(seconds(lambda: labeling.queue(store, "bench", "random", **kw))
                                              for _ in range(args.repeats)), 3)
               for scope, kw in (("all", {}), ("run", {"run_id": run}), ("checkpoint", {"checkpoint_id": a[0]}))}
    counts = store.counts()
    print(json.dumps({"bench": "after_write", "generations": counts["generations"], "labels": counts["labels"],
                      "repeats": args.repeats, "page_script_s": out,
                      "live_counts": {"detector": args.detector, "first_read_s": round(first, 2),
                                      "refresh_unchanged_s": round(unchanged, 3),
                                      "refresh_after_relabel_s": round(statistics.median(relabel), 3),
                                      "kept_mb": round(kept_mb)},
                      "paired_rate_s": round(statistics.median(paired), 3), "label_queue_random_s": queue_s,
                      "loadavg": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
