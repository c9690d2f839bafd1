"""Dashboard speed in a real browser on a big workspace: what a person waits for, page by page.

Builds (or reuses, --workspace) bench/dashboard.py's synthetic workspace of 100,000 examples x 5
checkpoints (500,000 generations), starts `hallu serve` on it and drives Debian's Chromium with
Playwright (the server, browser and flags of the browser tests). For each page it times, from
navigation (a fresh load of the page's URL) to a settled page, the median of --repeats opens after
one untimed warm-up (which fills the server's caches, as any earlier visitor would have); then
one widget change on the page, timed the same way from the click on the option.

Settled: the page's heading is drawn, and Streamlit's status widget ("Running...",
`[data-testid="stStatusWidget"]`) has been gone for 0.6 s with no script run finishing meanwhile.
The time reported is when that quiet period began: the latest of the heading drawn, the status
widget last seen and the last script run's end (its `script_finished` message on the websocket;
Streamlit only shows the widget after 0.5 s of running, so a short rerun would otherwise be missed).
With --after-write, each timed open follows one label saved again (the first `oracle` label, its spans
unchanged): every page's cache is keyed on the workspace's version, so this is the first view after a
labeler's write (a page that keeps its figures between writes reads only what the write touched).
The last stdout line is one JSON object.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/browser_pages.py [--workspace DIR] [--repeats 3] [--pages detectors,label]
        [--after-write]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from bench.dashboard import build  # noqa: E402
from helpers.browser import CHROMIUM, launch, serve, stop  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

QUIET_S = 0.6
POLL_MS = 25
# page -> (URL path and query, heading, the widget changed: (widget key, option picked))
PAGES = {
    "overview": ("", "Overview", ("overview-decoding", "all decodings pooled")),  # the default page: at the root
    "runs": ("runs", "Runs", ("runs-decoding", "all decodings pooled")),
    "inspect": ("inspect", "Inspect", ("f-flag", "yes")),
    "compare": ("compare", "Compare", ("cmp-source", "detector lexical")),
    "label": ("label?annotator=bench", "Label", ("label_order", "highest detector score first")),
    "label_random": ("label?annotator=bench&order=random", "Label", ("label_order", "unlabeled first")),
    "detectors": ("detectors", "Detectors", ("det_detector", "lexical")),
}


class Watch:
    """Times one page in one browser tab: script runs seen on the websocket, the status widget, the heading."""

    def __init__(self, page):
        self.page, self.finished = page, 0.0  # perf_counter time of the last script_finished
        self.finished_count = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if isinstance(payload, (bytes, bytearray)) and ForwardMsg.FromString(payload).HasField("script_finished"):
            self.finished, self.finished_count = time.perf_counter(), self.finished_count + 1

    def settle(self, start: float, heading: str, runs_before: int, timeout: float = 600) -> float:
        """Seconds from `start` until the page went quiet (see the module docstring)."""
        heading_at = busy_at = None
        while time.perf_counter() - start < timeout:
            drawn, busy = self.page.evaluate(
                """h => [[...document.querySelectorAll('h1')].some(e => e.textContent.trim().startsWith(h)),
                        !!document.querySelector('[data-testid="stStatusWidget"]')]""", heading)
            now = time.perf_counter()
            if drawn and heading_at is None:
                heading_at = now
            if busy:
                busy_at = now
            if heading_at is not None and not busy and self.finished_count > runs_before:
                quiet_from = max(heading_at, busy_at or start, self.finished)
                if now - quiet_from >= QUIET_S:
                    return quiet_from - start
            self.page.wait_for_timeout(POLL_MS)
        raise TimeoutError(f"the {heading} page did not settle within {timeout:.0f} s")

    def open(self, url: str, heading: str) -> float:
        start, runs = time.perf_counter(), self.finished_count
        self.page.goto(url)
        return self.settle(start, heading, runs)

    def change(self, heading: str, key: str, option: str) -> float:
        """Pick `option` in the select box `key`; seconds from the click to a settled page."""
        self.page.locator(f".st-key-{key} button[aria-label=Open]").first.click()
        target = self.page.get_by_role("option", name=option, exact=True)
        target.wait_for(timeout=30000)
        start, runs = time.perf_counter(), self.finished_count
        target.click()
        return self.settle(start, heading, runs)


def rewrite_a_label(root: Path):
    """A function that saves the workspace's first `oracle` label again, as a labeler's save would."""
    from hallu_core.store.database import Store

    store = Store(root)
    gid = store.query("SELECT generation_id FROM labels WHERE annotator = 'oracle' LIMIT 1")[0][0]
    return lambda: store.save_label(store.get_label(gid, "oracle"))


def measure(browser, url: str, names: list[str], repeats: int, before_open=lambda: None) -> dict:
    out = {}
    for name in names:
        path, heading, (key, option) = PAGES[name]
        tab = browser.new_page(viewport={"width": 1500, "height": 1100})
        watch = Watch(tab)
        opens, changes = [], []
        for _ in range(repeats + 1):  # the first round warms up; each open starts the widget at its default
            before_open()
            opens.append(watch.open(f"{url}/{path}", heading))
            changes.append(watch.change(heading, key, option))
        tab.close()
        opens, changes = opens[1:], changes[1:]
        out[name] = {"open_s": round(statistics.median(opens), 2), "opens_s": [round(t, 2) for t in opens],
                     "change_s": round(statistics.median(changes), 2), "changes_s": [round(t, 2) for t in changes],
                     "changed": f"{key} -> {option}"}
        print(f"{name}: {out[name]}", file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workspace", default=str(Path(tempfile.gettempdir()) / "hallu-bench-dashboard"))
    parser.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, of {', '.join(PAGES)}")
    parser.add_argument("--after-write", action="store_true", help="save one label again before each open")
    args = parser.parse_args()
    names = [n.strip() for n in args.pages.split(",") if n.strip()]
    if unknown := [n for n in names if n not in PAGES]:
        parser.error(f"--pages: no page {', '.join(unknown)}; choose from {', '.join(PAGES)}")
    if CHROMIUM is None:
        sys.exit("bench/browser_pages.py needs Debian's chromium (/usr/bin/chromium): run ./setup.sh")
    from playwright.sync_api import sync_playwright

    root = Path(args.workspace)
    counts = build(root, args.examples).counts()
    load_before = os.getloadavg()
    log = Path(tempfile.mkdtemp(prefix="hallu-bench-serve-")) / "serve.log"
    proc, url = serve(root, log)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            try:
                pages = measure(browser, url, names, args.repeats,
                                rewrite_a_label(root) if args.after_write else lambda: None)
            finally:
                browser.close()
    finally:
        stop(proc)
    print(json.dumps({"bench": "browser_pages", "generations": counts["generations"],
                      "detections": counts["detections"], "labels": counts["labels"], "repeats": args.repeats,
                      "after_write": args.after_write,
                      "quiet_s": QUIET_S, "pages": pages, "cpu_count": os.cpu_count(),
                      "loadavg_before": [round(x, 2) for x in load_before],
                      "loadavg_after": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
