"""Export: generations with their done labels, as RAGTruth-schema JSONL or a flat CSV / Parquet table."""
from __future__ import annotations

import json
from pathlib import Path

from hallu_core.data import tables
from hallu_core.data.io import format_of
from hallu_core.store.database import Store, marks


def export_file(store: Store, path: str | Path, fmt: str | None = None, annotators: list[str] | None = None,
                run_id: str | None = None) -> dict:
    """Write generations with their done labels: RAGTruth-schema JSONL, or a flat CSV/Parquet table.

    Drafts and skipped items are left out, and counted in `left_out`: a reader of the file (Hallu's own
    import too) takes every label in it as final, so an unfinished one would come back as a judgment."""
    path = Path(path)
    fmt = format_of(path.name, fmt)
    records = tables.export_records(store, annotators=annotators, run_id=run_id)
    tmp = path.with_name(path.name + ".partial")  # written aside, so a failed export leaves `path` as it was
    try:
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as out:
                for record in records:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            tables.write_flat(records, tmp, fmt)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"path": str(path), "generations": len(records),
            "spans": sum(len(r["labels"]) for r in records),
            "left_out": unfinished_labels(store, annotators, run_id)}


def unfinished_labels(store: Store, annotators: list[str] | None = None, run_id: str | None = None) -> dict:
    """How many labels an export leaves out, by status: {"draft": n, "skipped": m}."""
    sql = ("SELECT l.status, COUNT(*) FROM labels l JOIN generations g ON g.id = l.generation_id "
           "JOIN checkpoints c ON c.id = g.checkpoint_id WHERE l.status != 'done'")
    params: list = []
    if run_id:
        sql, params = sql + " AND c.run_id = ?", [run_id]
    if annotators is not None:
        sql, params = sql + f" AND l.annotator IN ({marks(annotators)})", params + list(annotators)
    counts = dict(store.query(sql + " GROUP BY l.status", params))
    return {"draft": counts.get("draft", 0), "skipped": counts.get("skipped", 0)}


def left_out_note(left_out: dict) -> str | None:
    """A sentence saying which labels an export left out, or None when it left out none."""
    parts = [f"{left_out['draft']} draft label(s) not marked done"] if left_out.get("draft") else []
    parts += [f"{left_out['skipped']} skipped item(s)"] if left_out.get("skipped") else []
    return f"Left out of the export: {' and '.join(parts)} (only labels marked done are exported)." \
        if parts else None


def export_bytes(store: Store, fmt: str, **kwargs) -> bytes:
    """The export as bytes (for a download button)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"export.{fmt}"
        export_file(store, out, fmt, **kwargs)
        return out.read_bytes()
