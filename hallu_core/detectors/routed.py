"""`default`: per task, the detector (or union of detectors) that measured best.

The routes live in `weights/default_routes.json`, chosen on the tuning part of the RAGTruth dev
slice (`bench/eval_ragtruth.py --choose-routes`, never on the lockbox): task -> list of member
detector names; "" serves tasks the table does not name (the demo world's tasks among them).
Members' spans are pooled; a later member's span overlapping an earlier one is dropped (the
metric would count those characters twice). The response score is the strongest member's; a
task's gate (same file) drops the spans of a response when they cover less than that share of
its characters (most of an answer supported: call it clean).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from .base import BaseDetector, DetectItem, DetectResult, Progress, no_progress

log = logging.getLogger(__name__)
ROUTES_FILE = Path(__file__).with_name("weights") / "default_routes.json"
FALLBACK_ROUTES = {"": ["learned_builtin"]}
# member name -> (registry name, config)
MEMBERS = {"span": ("span", {}), "lexical": ("lexical", {}), "record": ("record", {}),
           "learned_builtin": ("learned", {"pretrained": "builtin"})}


def load_gates(path: Path = ROUTES_FILE) -> dict[str, float]:
    """Per task, the share of the output's characters the pooled spans must cover for any of them
    to be reported (0: no gate)."""
    return json.loads(path.read_text(encoding="utf-8")).get("gates", {}) if path.exists() else {}


def coverage(result: DetectResult, output: str) -> float:
    covered = set()
    for s in result.spans:
        covered.update(range(s.start, s.end))
    return len(covered) / max(1, len(output))


def gated(result: DetectResult, gate: float, output: str) -> DetectResult:
    """The result without spans when they cover less of the output than the gate: an answer whose
    words are nearly all supported is called clean (the response score stays as it was)."""
    return result if not gate or coverage(result, output) >= gate else DetectResult([], result.response_score)


def load_routes(path: Path = ROUTES_FILE) -> dict[str, list[str]]:
    if not path.exists():
        return dict(FALLBACK_ROUTES)
    routes = json.loads(path.read_text(encoding="utf-8"))["routes"]
    unknown = {m for ms in routes.values() for m in ms} - set(MEMBERS)
    if unknown:
        raise ValueError(f"{path}: unknown default members {sorted(unknown)}; choose from {sorted(MEMBERS)}")
    return routes


def pool(results: list[DetectResult]) -> DetectResult:
    """Members' spans together, in member order; a span overlapping an earlier kept one is dropped."""
    spans, score = [], 0.0
    for r in results:
        score = max(score, r.response_score)
        spans += [s for s in r.spans if not any(s.start < t.end and t.start < s.end for t in spans)]
    return DetectResult(sorted(spans, key=lambda s: (s.start, s.end)), score)


class PerTaskDefault(BaseDetector):
    name = "default"

    def __init__(self, routes: dict | None = None, gates: dict | None = None, span_pretrained: str | None = "builtin"):
        super().__init__(routes=routes or load_routes(), gates=load_gates() if gates is None else gates,
                         span_pretrained=span_pretrained)
        self._members: dict[str, BaseDetector] = {}

    def route(self, task: str) -> list[str]:
        routes = self.config["routes"]
        return routes.get(task, routes.get("", FALLBACK_ROUTES[""]))

    def member(self, name: str):
        if name not in self._members:
            from .registry import get_detector

            registry_name, config = MEMBERS[name]
            if name == "span":
                config = {"pretrained": self.config["span_pretrained"]}
            self._members[name] = get_detector(registry_name, **config)
        return self._members[name]

    def weights_fingerprint(self):
        members = [self.member(m) for m in sorted({m for ms in self.config["routes"].values() for m in ms})]
        return [m.fingerprint() for m in members if hasattr(m, "fingerprint")]  # plug-in members may lack one

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        progress = progress or no_progress
        by_member: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            for m in self.route(item.task):
                by_member.setdefault(m, []).append(i)
        results: dict[tuple[str, int], DetectResult] = {}
        total = sum(len(v) for v in by_member.values()) or 1
        done = 0
        for m, idx in by_member.items():
            def step(k, n, message, base=done):
                progress(min(total, base + k), total, f"default/{m}: {message}")

            for i, r in zip(idx, self.member(m).detect([items[i] for i in idx], progress=step)):
                results[m, i] = r
            done += len(idx)
        gates = self.config["gates"]
        out = [gated(pool([results[m, i] for m in self.route(item.task)]), gates.get(item.task, gates.get("", 0.0)),
                     item.output) for i, item in enumerate(items)]
        progress(total, total, "default: done")
        return out

    def fit(self, items: list[DetectItem], gold_spans: list, progress: Progress | None = None):
        """Retrain the trainable members on these labels: the span classifier is fine-tuned from its
        shipped weights, the learned detector retrained from scratch."""
        used = {m for item in items for m in self.route(item.task)}
        trainable = [m for m in sorted(used) if m in ("span", "learned_builtin")]
        if not trainable:
            raise ValueError("default's members for these tasks have nothing to train; use --detector span or learned")
        for m in trainable:
            self.member(m).fit(items, gold_spans, progress)
        return self
