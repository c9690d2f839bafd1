"""Compare's per-side scores: one row per (judge, side, prompt), ordered for a linear pairing (migration 5).

    side_scores (source_kind, source, checkpoint_id, decoding_name, sample_index, example_id, generation_id)
                -> n_spans, score

A row is a generation a judge judged: a detector's newest detection (`detection_latest`;
score = its response score) or an annotator's done label (score = its span count), with
the generation's side and prompt copied in. Keyed by judge and side, then prompt, so that
pairing side A with side B walks A's range in prompt order and finds each B row next to the
previous one: no lookup of the generations, detections or labels, no sort. Triggers on
detection_latest, labels and generations keep it in the same transaction as any write.
"""
from __future__ import annotations

KEY = "source_kind, source, checkpoint_id, decoding_name, sample_index, example_id, generation_id"

TABLE = f"""
CREATE TABLE side_scores (
    source_kind TEXT NOT NULL, source TEXT NOT NULL, checkpoint_id TEXT NOT NULL, decoding_name TEXT NOT NULL,
    sample_index INTEGER NOT NULL, example_id TEXT NOT NULL, generation_id TEXT NOT NULL,
    n_spans INTEGER NOT NULL, score REAL,
    PRIMARY KEY ({KEY})
) WITHOUT ROWID;
"""


def _from_detection(r: str) -> str:
    return (f"SELECT 'detector', {r}.detector, g.checkpoint_id, g.decoding_name, g.sample_index, g.example_id, g.id, "
            f"{r}.n_spans, {r}.response_score FROM generations g WHERE g.id = {r}.generation_id")


def _from_label(r: str) -> str:
    return (f"SELECT 'labels', {r}.annotator, g.checkpoint_id, g.decoding_name, g.sample_index, g.example_id, g.id, "
            f"{r}.n_spans, {r}.n_spans FROM generations g WHERE g.id = {r}.generation_id AND {r}.status = 'done'")


def _insert(select: str) -> str:
    return f"INSERT OR REPLACE INTO side_scores ({KEY}, n_spans, score) {select};"


# Rows are found by their whole key (no index by generation: it would take as much room as the table):
# a judge's row from the generation's current place, a generation's rows from its judges.
def _delete(gid: str, kind: str, source: str) -> str:
    return (f"DELETE FROM side_scores WHERE source_kind = '{kind}' AND source = {source} AND "
            "(checkpoint_id, decoding_name, sample_index, example_id, generation_id) = (SELECT checkpoint_id, "
            f"decoding_name, sample_index, example_id, id FROM generations WHERE id = {gid});")


def _delete_generation(r: str) -> str:
    place = (f"checkpoint_id = {r}.checkpoint_id AND decoding_name = {r}.decoding_name AND sample_index = "
             f"{r}.sample_index AND example_id = {r}.example_id AND generation_id = {r}.id")
    return (f"DELETE FROM side_scores WHERE source_kind = 'detector' AND source IN "
            f"(SELECT detector FROM detection_latest WHERE generation_id = {r}.id) AND {place};"
            f"DELETE FROM side_scores WHERE source_kind = 'labels' AND source IN "
            f"(SELECT annotator FROM labels WHERE generation_id = {r}.id) AND {place};")


def _of_generation(r: str) -> str:
    """Rows for every judge of generation R (one inserted late, or whose key changed)."""
    det = ("SELECT 'detector', d.detector, {r}.checkpoint_id, {r}.decoding_name, {r}.sample_index, {r}.example_id, "
           "{r}.id, d.n_spans, d.response_score FROM detection_latest d WHERE d.generation_id = {r}.id")
    lab = ("SELECT 'labels', l.annotator, {r}.checkpoint_id, {r}.decoding_name, {r}.sample_index, {r}.example_id, "
           "{r}.id, l.n_spans, l.n_spans FROM labels l WHERE l.generation_id = {r}.id AND l.status = 'done'")
    return _insert(det.format(r=r)) + _insert(lab.format(r=r))


def trigger(name: str, event: str, body: str, when: str = "") -> str:
    """A row trigger's DDL (summary.py builds its triggers with it too)."""
    return f"CREATE TRIGGER {name} {event} FOR EACH ROW {('WHEN ' + when) if when else ''} BEGIN {body} END;"


# triggers on detection_latest (schema.rebuild finds them in sqlite_master and drops them around a rebuild)
LATEST_TRIGGERS = {
    "sides_latest_insert": trigger("sides_latest_insert", "AFTER INSERT ON detection_latest",
                                    _insert(_from_detection("NEW"))),
    "sides_latest_delete": trigger("sides_latest_delete", "AFTER DELETE ON detection_latest",
                                    _delete("OLD.generation_id", "detector", "OLD.detector")),
    "sides_latest_update": trigger("sides_latest_update", "AFTER UPDATE ON detection_latest",
                                    _delete("OLD.generation_id", "detector", "OLD.detector")
                                    + _insert(_from_detection("NEW"))),
}

TRIGGERS = "".join([  # with LATEST_TRIGGERS, which summary.py creates with its own
    trigger("sides_label_insert", "AFTER INSERT ON labels", _insert(_from_label("NEW"))),
    trigger("sides_label_delete", "AFTER DELETE ON labels", _delete("OLD.generation_id", "labels", "OLD.annotator")),
    trigger("sides_label_update", "AFTER UPDATE OF generation_id, annotator, status, n_spans ON labels",
             _delete("OLD.generation_id", "labels", "OLD.annotator") + _insert(_from_label("NEW"))),
    # rows stored before their generation (only possible with foreign keys off) join once it exists
    trigger("sides_generation_insert", "AFTER INSERT ON generations", _of_generation("NEW"),
             when="EXISTS (SELECT 1 FROM detection_latest WHERE generation_id = NEW.id) "
                  "OR EXISTS (SELECT 1 FROM labels WHERE generation_id = NEW.id)"),
    trigger("sides_generation_delete", "AFTER DELETE ON generations", _delete_generation("OLD")),
    trigger("sides_generation_update",
             "AFTER UPDATE OF id, example_id, checkpoint_id, decoding_name, sample_index ON generations",
             _delete_generation("OLD") + _of_generation("NEW")),
])

# In key order (ORDER BY 1-7): a million rows inserted at random places in the b-tree take several times
# longer. The outputs first (CROSS JOIN keeps that order): their covering index holds every column needed,
# and their ids come in order, so the lookups of their judges walk forward, not to the fat generation rows.
OUTPUTS = "generations g INDEXED BY generations_cover"  # covering: every column needed, ids in order
BACKFILL = (_insert("SELECT 'detector', d.detector, g.checkpoint_id, g.decoding_name, g.sample_index, g.example_id, "
                    f"g.id, d.n_spans, d.response_score FROM {OUTPUTS} CROSS JOIN detection_latest d "
                    "ON d.generation_id = g.id WHERE true ORDER BY 1, 2, 3, 4, 5, 6, 7")
            + _insert("SELECT 'labels', l.annotator, g.checkpoint_id, g.decoding_name, g.sample_index, g.example_id, "
                      f"g.id, l.n_spans, l.n_spans FROM {OUTPUTS} CROSS JOIN labels l ON l.generation_id = g.id "
                      "WHERE l.status = 'done' ORDER BY 1, 2, 3, 4, 5, 6, 7"))
