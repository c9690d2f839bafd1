"""Summary tables kept by triggers, so that the dashboard's aggregates cost the same on any workspace.

    generation_summary  (checkpoint_id, decoding_name, knowledge) -> generations, labeled
    source_summary      (source_kind, source, checkpoint_id, decoding_name, knowledge)
                        -> n_rows, judged, flagged, spans, conflict, baseless, self_contradiction, unknown

`knowledge` is the example meta `knowledge` ('' when unrecorded); `example_knowledge` remembers
it per example so that an example re-imported with another value moves its generations' counts.
A source is a detector (`source_kind` 'detector') or an annotator's labels ('labels'), with the
semantics of `queries.hallucination_rates`: a generation is *judged* by a detector when it has a
detection row of it (any config hash) and *flagged* when one of those rows has a span; it is
judged by an annotator when that annotator's label is done, flagged when the label has a span.
`labeled` counts generations with a done label from anyone. `n_rows` counts stored rows
(detections of every config hash; labels of any status), `spans` and the per-type counts the
spans in them (done labels only).

Triggers on generations, detections, labels and examples apply each row's delta in the same
transaction as the write, whichever code path writes. REPLACE fires the delete triggers only
with `PRAGMA recursive_triggers`, which every Store connection sets. `schema.rebuild` recomputes
everything from the base tables (the migration's back-fill; a repair after raw writes).

MIGRATION is schema migration 4: change the summary by adding a migration, never by editing
the SQL builders below in a way that changes what they emit. MIGRATION_5 (schema migration 5)
makes a detector's judged / flagged / span counts follow only its newest row per generation
(`detection_latest`, hallu_core/store/latest.py; n_rows still counts every stored row; only outputs
with a re-run detector change) and adds Compare's `side_scores` (hallu_core/store/sides.py).
"""
from __future__ import annotations

from hallu_core.store import latest, sides
from hallu_core.store.sides import trigger as _trigger  # one trigger builder for both summaries
from hallu_core.store.types import SPAN_TYPES

GEN_KEY = "checkpoint_id, decoding_name, knowledge"
SRC_KEY = f"source_kind, source, {GEN_KEY}"
SRC_COUNTS = ("n_rows", "judged", "flagged", "spans", *SPAN_TYPES)

TABLES = f"""
CREATE TABLE example_knowledge (
    example_id TEXT PRIMARY KEY,
    knowledge TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE generation_summary (
    checkpoint_id TEXT NOT NULL, decoding_name TEXT NOT NULL, knowledge TEXT NOT NULL,
    generations INTEGER NOT NULL, labeled INTEGER NOT NULL,
    PRIMARY KEY ({GEN_KEY})
) WITHOUT ROWID;
CREATE TABLE source_summary (
    source_kind TEXT NOT NULL, source TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL, decoding_name TEXT NOT NULL, knowledge TEXT NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL" for c in SRC_COUNTS)},
    PRIMARY KEY ({SRC_KEY})
) WITHOUT ROWID;
-- per-example lookups (Compare's pairs and prompt picker); replaces generations_example, its prefix
CREATE INDEX generations_by_example ON generations(example_id, checkpoint_id, decoding_name, sample_index);
DROP INDEX generations_example;
"""


def knowledge_of(meta: str) -> str:
    """The summary's knowledge value of an example meta JSON expression."""
    return f"COALESCE(CASE WHEN json_valid({meta}) THEN CAST(json_extract({meta}, '$.knowledge') AS TEXT) END, '')"


def _known(example_id: str) -> str:
    return f"COALESCE((SELECT knowledge FROM example_knowledge WHERE example_id = {example_id}), '')"


def _upsert(key: str, cols: tuple[str, ...]) -> str:
    return f"ON CONFLICT ({key}) DO UPDATE SET " + ", ".join(f"{c} = {c} + excluded.{c}" for c in cols)


def _insert_gen(select: str) -> str:
    return f"INSERT INTO generation_summary ({GEN_KEY}, generations, labeled) {select} " \
           f"{_upsert(GEN_KEY, ('generations', 'labeled'))};"


def _insert_src(select: str) -> str:
    return f"INSERT INTO source_summary ({SRC_KEY}, {', '.join(SRC_COUNTS)}) {select} {_upsert(SRC_KEY, SRC_COUNTS)};"


def _type_counts(spans: str, when: str) -> list[str]:
    return [f"CASE WHEN {when} THEN (SELECT COUNT(*) FROM json_each({spans}) "
            f"WHERE COALESCE(json_extract(value, '$.type'), 'unknown') = '{t}') ELSE 0 END" for t in SPAN_TYPES]


def _types_of(spans: str) -> str:
    """A one-row derived table `ts` with a count per span type of one row's spans: the JSON is parsed once."""
    counts = ", ".join(f"COALESCE(SUM(t = '{t}'), 0) AS {t}" for t in SPAN_TYPES)
    return (f"(SELECT {counts} FROM (SELECT COALESCE(json_extract(value, '$.type'), 'unknown') AS t "
            f"FROM json_each({spans}))) ts")


def _signed(sign: int, values: list[str]) -> str:
    return ", ".join(f"{sign} * ({v})" for v in values)


# the generation a detection or label row belongs to, with its summary key
_OF_ROW = ("g.checkpoint_id, g.decoding_name, COALESCE(k.knowledge, '')",
           "FROM generations g LEFT JOIN example_knowledge k ON k.example_id = g.example_id{also} WHERE g.id = {gid}")

CLEANUP = ("DELETE FROM source_summary WHERE n_rows = 0;"
           "DELETE FROM generation_summary WHERE generations = 0 AND labeled = 0;")


# -- per-row deltas: a detection or label row R (NEW or OLD) enters (+1) or leaves (-1) ----------------
def _detection_delta(r: str, sign: int, skip: str) -> str:
    """`skip` is the rowid that is not a sibling: the row itself, in the state without it."""
    siblings = (f"FROM detections o WHERE o.generation_id = {r}.generation_id AND o.detector = {r}.detector "
                f"AND o.rowid != {skip}")
    values = ["1", f"NOT EXISTS (SELECT 1 {siblings})",
              f"{r}.n_spans > 0 AND NOT EXISTS (SELECT 1 {siblings} AND o.n_spans > 0)",
              f"{r}.n_spans", *(f"ts.{t}" for t in SPAN_TYPES)]
    key, frm = _OF_ROW
    return _insert_src(f"SELECT 'detector', {r}.detector, {key}, {_signed(sign, values)} "
                       f"{frm.format(gid=f'{r}.generation_id', also=', ' + _types_of(f'{r}.spans'))}")


def _label_delta(r: str, sign: int, skip: str) -> str:
    done = f"{r}.status = 'done'"
    values = ["1", done, f"{done} AND {r}.n_spans > 0", f"CASE WHEN {done} THEN {r}.n_spans ELSE 0 END",
              *(f"CASE WHEN {done} THEN ts.{t} ELSE 0 END" for t in SPAN_TYPES)]
    key, frm = _OF_ROW
    first_done = (f"{done} AND NOT EXISTS (SELECT 1 FROM labels o WHERE o.generation_id = {r}.generation_id "
                  f"AND o.status = 'done' AND o.rowid != {skip})")
    gid = f"{r}.generation_id"
    return (_insert_src(f"SELECT 'labels', {r}.annotator, {key}, {_signed(sign, values)} "
                        f"{frm.format(gid=gid, also=', ' + _types_of(f'{r}.spans'))}")
            + _insert_gen(f"SELECT {key}, 0, {sign} {frm.format(gid=gid, also='')} AND {first_done}"))


# -- set deltas: every row of a set of generations X (columns gid, checkpoint_id, decoding_name, knowledge)
def _set_delta(x: str, sign: int, generations: bool = True, latest: bool = False) -> str:
    """`latest` (migration 5 on): a detector's judged, flagged and span counts come from its newest row only."""
    key = "x.checkpoint_id, x.decoding_name, x.knowledge"
    named = "x.checkpoint_id AS checkpoint_id, x.decoding_name AS decoding_name, x.knowledge AS knowledge"
    labeled = "EXISTS (SELECT 1 FROM labels l WHERE l.generation_id = x.gid AND l.status = 'done')"
    gen = _insert_gen(f"SELECT {key}, {sign} * {'COUNT(*)' if generations else 0}, {sign} * SUM({labeled}) "
                      f"FROM ({x}) x WHERE true GROUP BY {key}")
    det = _latest_set_delta(x, sign) if latest else _any_row_set_delta(x, sign, key, named)
    return gen + det + _label_set_delta(x, sign, key)


def _any_row_set_delta(x: str, sign: int, key: str, named: str) -> str:
    """Migration 4's detector counts: a generation is flagged when any of its rows (config hashes) has a span."""
    # one row per (generation, detector) first: judged / flagged count generations, not config hashes
    per_gen = (f"SELECT {named}, d.detector, COUNT(*) AS n_rows, MAX(d.n_spans > 0) AS flagged, "
               f"SUM(d.n_spans) AS spans, "
               + ", ".join(f"SUM({c}) AS {t}" for c, t in zip(_type_counts("d.spans", "d.n_spans > 0"), SPAN_TYPES))
               + f" FROM ({x}) x JOIN detections d ON d.generation_id = x.gid GROUP BY x.gid, d.detector, {key}")
    det = _insert_src(f"SELECT 'detector', detector, {GEN_KEY}, "
                      + _signed(sign, ["SUM(n_rows)", "COUNT(*)", "SUM(flagged)", "SUM(spans)", *(
                          f"SUM({t})" for t in SPAN_TYPES)])
                      + f" FROM ({per_gen}) WHERE true GROUP BY detector, {GEN_KEY}")
    return det


def _latest_set_delta(x: str, sign: int) -> str:
    """Every stored row counts in n_rows; judged, flagged, spans and types come from the newest row."""
    key = "x.checkpoint_id, x.decoding_name, x.knowledge"
    zeros = ", ".join("0" for _ in SRC_COUNTS[1:])
    rows = _insert_src(f"SELECT 'detector', d.detector, {key}, {sign} * COUNT(*), {zeros} FROM ({x}) x "
                       f"JOIN detections d ON d.generation_id = x.gid WHERE true GROUP BY d.detector, {key}")
    values = ["0", "COUNT(*)", "SUM(d.n_spans > 0)", "SUM(d.n_spans)", *(f"SUM(d.{t})" for t in SPAN_TYPES)]
    newest = _insert_src(f"SELECT 'detector', d.detector, {key}, {_signed(sign, values)} FROM ({x}) x "
                         f"JOIN detection_latest d ON d.generation_id = x.gid WHERE true GROUP BY d.detector, {key}")
    return rows + newest


def _label_set_delta(x: str, sign: int, key: str) -> str:
    done = "l.status = 'done'"
    lab_values = ["COUNT(*)", f"SUM({done})", f"SUM({done} AND l.n_spans > 0)",
                  f"SUM(CASE WHEN {done} THEN l.n_spans ELSE 0 END)",
                  *(f"SUM({c})" for c in _type_counts("l.spans", f"{done} AND l.n_spans > 0"))]
    lab = _insert_src(f"SELECT 'labels', l.annotator, {key}, {_signed(sign, lab_values)} "
                      f"FROM ({x}) x JOIN labels l ON l.generation_id = x.gid WHERE true GROUP BY l.annotator, {key}")
    return lab


def _one_generation(r: str) -> str:
    return (f"SELECT {r}.id AS gid, {r}.checkpoint_id AS checkpoint_id, {r}.decoding_name AS decoding_name, "
            f"{_known(f'{r}.example_id')} AS knowledge")


ALL_GENERATIONS = ("SELECT g.id AS gid, g.checkpoint_id, g.decoding_name, COALESCE(k.knowledge, '') AS knowledge "
                   "FROM generations g LEFT JOIN example_knowledge k ON k.example_id = g.example_id")

BACKFILL = (f"INSERT INTO example_knowledge SELECT id, {knowledge_of('meta')} FROM examples;"
            + _set_delta(ALL_GENERATIONS, +1))


def _example_body(latest: bool = False) -> str:
    """An example inserted, replaced or edited: move its generations when its knowledge changed."""
    old, new = _known("NEW.id"), knowledge_of("NEW.meta")
    moved = f"FROM generations g WHERE g.example_id = NEW.id AND {old} != {new}"
    return (_set_delta(f"SELECT g.id AS gid, g.checkpoint_id, g.decoding_name, {old} AS knowledge {moved}", -1,
                       latest=latest)
            + _set_delta(f"SELECT g.id AS gid, g.checkpoint_id, g.decoding_name, {new} AS knowledge {moved}", +1,
                         latest=latest)
            + f"INSERT INTO example_knowledge VALUES (NEW.id, {new}) "
              "ON CONFLICT (example_id) DO UPDATE SET knowledge = excluded.knowledge;" + CLEANUP)


TRIGGERS = "".join([
    _trigger("summary_generation_insert", "AFTER INSERT ON generations",
             _insert_gen(f"SELECT NEW.checkpoint_id, NEW.decoding_name, {_known('NEW.example_id')}, 1, 0 WHERE true")),
    # rows stored before their generation (only possible with foreign keys off) count from now on
    _trigger("summary_generation_orphans", "AFTER INSERT ON generations",
             _set_delta(_one_generation("NEW"), +1, generations=False),
             when="EXISTS (SELECT 1 FROM detections WHERE generation_id = NEW.id) "
                  "OR EXISTS (SELECT 1 FROM labels WHERE generation_id = NEW.id)"),
    _trigger("summary_generation_delete", "AFTER DELETE ON generations",
             _set_delta(_one_generation("OLD"), -1) + CLEANUP),
    _trigger("summary_generation_update", "AFTER UPDATE OF id, example_id, checkpoint_id, decoding_name ON generations",
             _set_delta(_one_generation("OLD"), -1) + _set_delta(_one_generation("NEW"), +1) + CLEANUP),
    _trigger("summary_detection_insert", "AFTER INSERT ON detections", _detection_delta("NEW", +1, "NEW.rowid")),
    _trigger("summary_detection_delete", "AFTER DELETE ON detections",
             _detection_delta("OLD", -1, "OLD.rowid") + CLEANUP),
    _trigger("summary_detection_update", "AFTER UPDATE OF generation_id, detector, n_spans, spans ON detections",
             _detection_delta("OLD", -1, "NEW.rowid") + _detection_delta("NEW", +1, "NEW.rowid") + CLEANUP),
    _trigger("summary_label_insert", "AFTER INSERT ON labels", _label_delta("NEW", +1, "NEW.rowid")),
    _trigger("summary_label_delete", "AFTER DELETE ON labels", _label_delta("OLD", -1, "OLD.rowid") + CLEANUP),
    _trigger("summary_label_update", "AFTER UPDATE OF generation_id, annotator, status, n_spans, spans ON labels",
             _label_delta("OLD", -1, "NEW.rowid") + _label_delta("NEW", +1, "NEW.rowid") + CLEANUP),
    _trigger("summary_example_insert", "AFTER INSERT ON examples", _example_body()),
    _trigger("summary_example_update", "AFTER UPDATE OF meta ON examples", _example_body()),
])

MIGRATION = TABLES + BACKFILL + TRIGGERS


# -- migration 5: a detector's counts follow its newest row (hallu_core/store/latest.py) ------------------
# Triggers on detections keep detection_latest and n_rows; triggers on detection_latest move the rest.
def _newest_delta(r: str, sign: int) -> str:
    """A detection_latest row R enters (+1) or leaves (-1): judged, flagged, spans and types, not n_rows."""
    values = ["0", "1", f"{r}.n_spans > 0", f"{r}.n_spans", *(f"{r}.{t}" for t in SPAN_TYPES)]
    key, frm = _OF_ROW
    return _insert_src(f"SELECT 'detector', {r}.detector, {key}, {_signed(sign, values)} "
                       f"{frm.format(gid=f'{r}.generation_id', also='')}")


def _stored_delta(r: str, sign: int) -> str:
    """A detections row R is stored (+1) or removed (-1): n_rows only."""
    key, frm = _OF_ROW
    zeros = ", ".join("0" for _ in SRC_COUNTS[1:])
    return _insert_src(f"SELECT 'detector', {r}.detector, {key}, {sign}, {zeros} "
                       f"{frm.format(gid=f'{r}.generation_id', also='')}")


LATEST_TRIGGERS = {  # on detection_latest (schema.rebuild drops them around a rebuild, found in sqlite_master)
    "summary_latest_insert": _trigger("summary_latest_insert", "AFTER INSERT ON detection_latest",
                                      _newest_delta("NEW", +1)),
    "summary_latest_delete": _trigger("summary_latest_delete", "AFTER DELETE ON detection_latest",
                                      _newest_delta("OLD", -1)),
    "summary_latest_update": _trigger("summary_latest_update", "AFTER UPDATE ON detection_latest",
                                      _newest_delta("OLD", -1) + _newest_delta("NEW", +1)),
    **sides.LATEST_TRIGGERS,
}
# migration 4's triggers whose detector counts took any row; recreated below with the newest row's
REPLACED = ("summary_detection_insert", "summary_detection_delete", "summary_detection_update",
            "summary_generation_orphans", "summary_generation_delete", "summary_generation_update",
            "summary_example_insert", "summary_example_update")
# one trigger per event on detections: detection_latest first, then n_rows, then the cleanup (order matters)
TRIGGERS_5 = "".join([
    _trigger("summary_detection_insert", "AFTER INSERT ON detections", latest.on_insert() + _stored_delta("NEW", +1)),
    _trigger("summary_detection_delete", "AFTER DELETE ON detections",
             latest.on_delete() + _stored_delta("OLD", -1) + CLEANUP),
    _trigger("summary_detection_update",
             "AFTER UPDATE OF generation_id, detector, config_hash, spans, n_spans, span_types, response_score, "
             "created_at ON detections",
             latest.on_update() + _stored_delta("OLD", -1) + _stored_delta("NEW", +1) + CLEANUP),
    _trigger("summary_generation_orphans", "AFTER INSERT ON generations",
             _set_delta(_one_generation("NEW"), +1, generations=False, latest=True),
             when="EXISTS (SELECT 1 FROM detections WHERE generation_id = NEW.id) "
                  "OR EXISTS (SELECT 1 FROM labels WHERE generation_id = NEW.id)"),
    _trigger("summary_generation_delete", "AFTER DELETE ON generations",
             _set_delta(_one_generation("OLD"), -1, latest=True) + CLEANUP),
    _trigger("summary_generation_update", "AFTER UPDATE OF id, example_id, checkpoint_id, decoding_name ON generations",
             _set_delta(_one_generation("OLD"), -1, latest=True) + _set_delta(_one_generation("NEW"), +1, latest=True)
             + CLEANUP),
    _trigger("summary_example_insert", "AFTER INSERT ON examples", _example_body(latest=True)),
    _trigger("summary_example_update", "AFTER UPDATE OF meta ON examples", _example_body(latest=True)),
])
# everything derived, from the base tables (detection_latest's triggers must not exist meanwhile)
BACKFILL_5 = (f"INSERT INTO example_knowledge SELECT id, {knowledge_of('meta')} FROM examples;" + latest.BACKFILL
              + _set_delta(ALL_GENERATIONS, +1, latest=True) + sides.BACKFILL)

# Migration 4's detector counts equal the newest row's wherever a (generation, detector) has one row, so
# only generations with a re-run detector are recounted: migration 4's counts of them out, the new ones in.
RERUN_GENERATIONS = (ALL_GENERATIONS + " WHERE g.id IN (SELECT generation_id FROM detections "
                     "GROUP BY generation_id, detector HAVING COUNT(*) > 1)")
_X_KEY = ("x.checkpoint_id, x.decoding_name, x.knowledge",
          "x.checkpoint_id AS checkpoint_id, x.decoding_name AS decoding_name, x.knowledge AS knowledge")
MIGRATION_5 = ("".join(f"DROP TRIGGER {name};" for name in REPLACED) + latest.TABLE + sides.TABLE
               + latest.BACKFILL + _any_row_set_delta(RERUN_GENERATIONS, -1, *_X_KEY)
               + _latest_set_delta(RERUN_GENERATIONS, +1) + CLEANUP + sides.BACKFILL
               + TRIGGERS_5 + "".join(LATEST_TRIGGERS.values()) + sides.TRIGGERS)
