"""`default`: per task, a span source and a response rule, each the one that measured best.

The routes live in `weights/default_routes.json`, chosen by cross-validation on the tuning part of
the RAGTruth dev slice (`bench/eval_ragtruth.py --part tuning --choose-routes`, never on the
lockbox). A route is

    {"spans": [members], "fallback": [members], "response": {"rule": ..., ...}}

- `spans`: the detectors whose spans are shown, pooled in order (a later member's span
  overlapping an earlier kept one is dropped: the metric would count those characters twice).
- `response`: whether the response is flagged, decided separately from which spans are shown:
  `{"rule": "spans"}` flagged when the span source reports any span; `{"rule": "coverage", "min": g}`
  when its spans cover at least share g of the output (most of an answer supported: clean);
  `{"rule": "score", "detector": X, "min": t}` when member X reports a span with calibrated score
  >= t; `{"rule": "all"}` every response of the task.
- `fallback` (optional): for a flagged response where `spans` found nothing, these members'
  spans are shown instead (still a detector's own spans, never invented ones).
- `score` (optional): where the response score comes from: a member (its calibrated response
  score) or "coverage" (the share of the output the span source's spans cover); by default the
  strongest member's. It is what default's calibration map turns into a probability, and its
  per-task operating threshold (calibrate.py, operating.py) decides which responses keep spans.
- `relative_to_peers` (optional, bool): the response score is taken against the median of the
  output's peers' (`DetectItem.samples`: other outputs for the same prompt, each scored by the same
  route; peers.py). default runs the members on peers outside the batch too.

A response the rule calls clean is returned without spans. Hallu's metric (metrics.py, and the
held-out scoring) counts a response as flagged when it has at least one span, so a response the
rule flags but no span source locates anything in is returned with no spans and counted clean:
its response score is the only trace.
A plain list of members is the route {"spans": list, "response": {"rule": "spans"}}.
"" serves the tasks the table does not name (the demo world's tasks among them).
"""
from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

from hallu_core.detection.detectors.base import BaseDetector, DetectItem, DetectResult, Progress, no_progress
from hallu_core.detection.detectors.peers import relative_to_peers

log = logging.getLogger(__name__)
ROUTES_FILE = Path(__file__).with_name("weights") / "default_routes.json"
FALLBACK_ROUTES = {"": {"spans": ["learned_builtin"], "fallback": [], "response": {"rule": "spans"}}}
# member name -> (registry name, config)
MEMBERS = {"span": ("span", {}), "lexical": ("lexical", {}), "record": ("record", {}),
           "self_contradiction": ("self_contradiction", {}),
           "learned_builtin": ("learned", {"pretrained": "builtin"})}
RULES = {"spans": set(), "coverage": {"min"}, "score": {"detector", "min"}, "all": set()}
COVERAGE = "coverage"  # a route's `score` from the share of the output its spans cover


def parse_route(task: str, value, where: str = "routes") -> dict:
    """A route in its full form, or ValueError saying what is wrong with it."""
    if isinstance(value, list):
        value = {"spans": value}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: route {task!r} must be a list of members or an object, got {type(value).__name__}")
    unknown_keys = set(value) - {"spans", "fallback", "response", "score", "relative_to_peers"}
    if unknown_keys:
        raise ValueError(f"{where}: route {task!r} has unknown keys {sorted(unknown_keys)}")
    spans, fallback = value.get("spans"), value.get("fallback", [])
    response = value.get("response", {"rule": "spans"})
    for key, members in (("spans", spans), ("fallback", fallback)):
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ValueError(f"{where}: route {task!r}: {key!r} must be a list of member names")
    if not spans:
        raise ValueError(f"{where}: route {task!r} names no span member")
    if not isinstance(response, dict) or response.get("rule") not in RULES:
        raise ValueError(f"{where}: route {task!r}: response rule must be an object with rule one of {sorted(RULES)}")
    rule = response["rule"]
    if set(response) - {"rule"} != RULES[rule]:
        raise ValueError(f"{where}: route {task!r}: rule {rule!r} takes exactly {sorted(RULES[rule]) or 'no'} "
                         f"parameters, got {sorted(set(response) - {'rule'})}")
    if "min" in response and not (isinstance(response["min"], (int, float)) and 0.0 <= response["min"] <= 1.0):
        raise ValueError(f"{where}: route {task!r}: rule {rule!r} needs min in [0, 1], got {response['min']!r}")
    score = value.get("score")
    if score is not None and score not in set(MEMBERS) | {COVERAGE}:
        raise ValueError(f"{where}: route {task!r}: score must be a member or {COVERAGE!r}, got {score!r}")
    relative = value.get("relative_to_peers", False)
    if not isinstance(relative, bool):
        raise ValueError(f"{where}: route {task!r}: relative_to_peers must be true or false, got {relative!r}")
    members = set(spans) | set(fallback) | ({response["detector"]} if rule == "score" else set())
    unknown = members - set(MEMBERS)
    if unknown:
        raise ValueError(f"{where}: route {task!r}: unknown default members {sorted(unknown)}; "
                         f"choose from {sorted(MEMBERS)}")
    return {"spans": list(spans), "fallback": list(fallback), "response": dict(response),
            **({"score": score} if score is not None else {}), **({"relative_to_peers": True} if relative else {})}


def route_members(route: dict) -> list[str]:
    """Every member a route needs run, in a stable order."""
    rule = route["response"]
    extra = [rule["detector"]] if rule["rule"] == "score" else []
    extra += [route["score"]] if route.get("score", COVERAGE) != COVERAGE else []
    return list(dict.fromkeys(route["spans"] + route["fallback"] + extra))


def load_routes(path: Path = ROUTES_FILE) -> dict[str, dict]:
    """task -> route (full form); the built-in fallback when the file is absent."""
    if not path.exists():
        return {k: dict(v) for k, v in FALLBACK_ROUTES.items()}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("routes"), dict):
        raise ValueError(f"{path}: needs a \"routes\" object of task -> route")
    if raw.get("gates"):
        raise ValueError(f"{path}: \"gates\" is the old format; write each as the route's "
                         "response rule {\"rule\": \"coverage\", \"min\": g}")
    routes = {task: parse_route(task, value, str(path)) for task, value in raw["routes"].items()}
    if "" not in routes:
        raise ValueError(f"{path}: needs a \"\" route for the tasks it does not name")
    return routes


def coverage(spans, output: str) -> float:
    covered = set()
    for s in spans:
        covered.update(range(s.start, s.end))
    return len(covered) / max(1, len(output))


def pool(results: list[DetectResult]) -> DetectResult:
    """Members' spans together, in member order; a span overlapping an earlier kept one is dropped."""
    spans, score = [], 0.0
    for r in results:
        score = max(score, r.response_score)
        spans += [s for s in r.spans if not any(s.start < t.end and t.start < s.end for t in spans)]
    return DetectResult(sorted(spans, key=lambda s: (s.start, s.end)), score)


def flagged(rule: dict, shown: DetectResult, member_results: dict[str, DetectResult], output: str) -> bool:
    """The route's response rule on one response."""
    kind = rule["rule"]
    if kind == "all":
        return True
    if kind == "score":
        return any(s.score >= rule["min"] for s in member_results[rule["detector"]].spans)
    if kind == "coverage":
        return bool(shown.spans) and coverage(shown.spans, output) >= rule["min"]
    return bool(shown.spans)


def response_score(route: dict, shown: DetectResult, member_results: dict[str, DetectResult], output: str) -> float:
    """The route's response score (its `score`; the strongest member's by default)."""
    source = route.get("score")
    if source == COVERAGE:
        return round(coverage(shown.spans, output), 4)
    if source is not None:
        return member_results[source].response_score
    return max(r.response_score for r in member_results.values()) if member_results else 0.0


def apply_route(route: dict, member_results: dict[str, DetectResult], output: str) -> DetectResult:
    """One response's result from its members' results: the span source's spans (else the
    fallback's) when the rule flags it, none when it does not; the response score either way
    (before `relative_to_peers`: against_peers)."""
    shown = pool([member_results[m] for m in route["spans"]])
    score = response_score(route, shown, member_results, output)
    if not flagged(route["response"], shown, member_results, output):
        return DetectResult([], score)
    if not shown.spans and route["fallback"]:
        shown = pool([member_results[m] for m in route["fallback"]])
    return DetectResult(shown.spans, score)


def against_peers(route: dict, result: DetectResult, peer_results: list[DetectResult]) -> DetectResult:
    """`result` with its score taken against its peers' (their apply_route results) where the route says so."""
    if not route.get("relative_to_peers"):
        return result
    peer_scores = [r.response_score for r in peer_results]
    return DetectResult(result.spans, relative_to_peers(result.response_score, peer_scores))


class PerTaskDefault(BaseDetector):
    name = "default"

    def __init__(self, routes: dict | None = None, span_pretrained: str | None = "builtin"):
        routes = load_routes() if routes is None else {t: parse_route(t, v, "routes=") for t, v in routes.items()}
        super().__init__(routes=routes, span_pretrained=span_pretrained)
        self._members: dict[str, BaseDetector] = {}

    def route(self, task: str) -> dict:
        routes = self.config["routes"]
        return routes.get(task, routes.get("", FALLBACK_ROUTES[""]))

    def member(self, name: str):
        if name not in self._members:
            from hallu_core.detection.detectors.registry import get_detector

            registry_name, config = MEMBERS[name]
            if name == "span":
                config = {"pretrained": self.config["span_pretrained"]}
            member = get_detector(registry_name, **config)
            member.operate = False  # calibrated spans for every response: default's own threshold decides
            self._members[name] = member
        return self._members[name]

    def weights_fingerprint(self):
        used = sorted({m for r in self.config["routes"].values() for m in route_members(r)})
        members = [self.member(m) for m in used]
        return [m.fingerprint() for m in members if hasattr(m, "fingerprint")]  # plug-in members may lack one

    def peer_items(self, items: list[DetectItem]) -> list[DetectItem]:
        """The peers (samples) of items whose route scores against peers that are not in the batch, as items."""
        have = {(it.task, it.grounding, it.output) for it in items}
        extra = []
        for item in items:
            if not self.route(item.task).get("relative_to_peers"):
                continue
            for k, text in enumerate(item.samples):
                if (item.task, item.grounding, text) not in have:
                    have.add((item.task, item.grounding, text))
                    extra.append(replace(item, id=f"{item.id}/peer{k}", output=text, tokens=[], samples=[]))
        return extra

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        progress = progress or no_progress
        batch = list(items) + self.peer_items(items)  # peers are scored like outputs, then only compared with
        by_member: dict[str, list[int]] = {}
        for i, item in enumerate(batch):
            for m in route_members(self.route(item.task)):
                by_member.setdefault(m, []).append(i)
        results: dict[tuple[str, int], DetectResult] = {}
        total = sum(len(v) for v in by_member.values()) or 1
        done = 0
        for m, idx in by_member.items():
            def step(k, n, message, base=done):
                progress(min(total, base + k), total, f"default/{m}: {message}")

            for i, r in zip(idx, self.member(m).detect([batch[i] for i in idx], progress=step)):
                results[m, i] = r
            done += len(idx)
        raw = []
        for i, item in enumerate(batch):
            route = self.route(item.task)
            raw.append(apply_route(route, {m: results[m, i] for m in route_members(route)}, item.output))
        where = {(it.task, it.grounding, it.output): i for i, it in enumerate(batch)}
        out = []
        for i, item in enumerate(items):
            route = self.route(item.task)
            peers = [raw[where[item.task, item.grounding, s]] for s in item.samples] \
                if route.get("relative_to_peers") else []
            out.append(against_peers(route, raw[i], peers))
        progress(total, total, "default: done")
        return out

    def fit(self, items: list[DetectItem], gold_spans: list, progress: Progress | None = None):
        """Retrain the trainable members on these labels: the span classifier is fine-tuned from its
        shipped weights, the learned detector retrained from scratch."""
        used = {m for item in items for m in route_members(self.route(item.task))}
        trainable = [m for m in sorted(used) if m in ("span", "learned_builtin")]
        if not trainable:
            raise ValueError("default's members for these tasks have nothing to train; use --detector span or learned")
        for m in trainable:
            self.member(m).fit(items, gold_spans, progress)
        return self
