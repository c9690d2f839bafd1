"""How every page shows a hallucination rate: estimate, 95% interval, outputs, labels, method."""
from __future__ import annotations

import streamlit as st

from hallu_core.rates.estimator import DETECTOR_ONLY

RATE_COLUMNS = {
    "rate": st.column_config.NumberColumn("rate", format="%.1f%%", help="Estimated share of outputs that hallucinate"),
    "95% CI": st.column_config.TextColumn("95% CI", help="The interval the true rate lies in, 19 times in 20"),
    "outputs": st.column_config.NumberColumn(format="%d"),
    "labeled": st.column_config.NumberColumn(format="%d", help="Outputs people labeled"),
}


def interval(row: dict, difference: bool = False) -> str:
    """A rate's 95% interval in words (`difference`: of a difference of two rates, in signed points)."""
    if row.get("ci_low") is None:
        return "no interval" if difference else "none"
    if row["ci_low"] == row["ci_high"]:
        return "exact (every output labeled)" if difference else "exact"
    if difference:
        return f"95% CI {100 * row['ci_low']:+.1f} to {100 * row['ci_high']:+.1f} points"
    return f"{100 * row['ci_low']:.1f}-{100 * row['ci_high']:.1f}%"


def rate_table_rows(rows: list[dict]) -> list[dict]:
    """Rate rows (`rates.judge_rates`, pooled or not) as table rows."""
    return [{"run": r.get("run"), "checkpoint": r.get("checkpoint"), "rate": 100 * r["rate"], "95% CI": interval(r),
             "outputs": r["n"], "labeled": r.get("labeled", 0), "method": r.get("method", "flag share")}
            for r in rows]


def rates_note(rows: list[dict]) -> str:
    """One sentence on what the rates rest on: labels, and what to do where there is no interval."""
    groups: dict[tuple, tuple[int, int]] = {}  # each group of outputs once, however many judges rate it
    for r in rows:
        key = (r.get("checkpoint_id"), r.get("run"), r.get("checkpoint"), r.get("decoding"), r.get("knowledge"))
        n, labeled = groups.get(key, (0, 0))
        groups[key] = (max(n, r["n"]), max(labeled, r.get("labeled", 0)))
    outputs, labeled = sum(n for n, _ in groups.values()), sum(lab for _, lab in groups.values())
    if any(r.get("method") == DETECTOR_ONLY for r in rows):
        return (f"{labeled:,} of {outputs:,} outputs are labeled: where a rate has no interval it is the detector's "
                "own estimate, calibrated elsewhere. Label a random sample (Label page, random order) to get one.")
    return f"{labeled:,} of {outputs:,} outputs are labeled."


def skill_notes(judge: tuple[str, str] | None) -> None:
    """Where a detector judge's scores show no skill on a task: say so, and how many labels would do instead."""
    from hallu_core.ui.data import q
    from hallu_core.views import render

    if not judge or judge[0] != "detector":
        return
    for row in q("unskilled", judge[1]):
        if not row["labels_needed"]:
            continue  # enough random labels: the rate rests on them, the detector only narrows it
        st.info(render.md_escape(
            f"No reliable automatic judge for the {row['task']} outputs: {judge[1]}'s scores show no skill there "
            f"({row['reason']}), so its flags and its own rate say little. Label {row['labels_needed']} more of "
            "them in random order (Label page) for a rate within ±10 points."), icon=":material/help:")
