"""Each detector's newest response scores summed per (checkpoint, decoding, knowledge), kept by triggers.

    score_summary  (detector, checkpoint_id, decoding_name, knowledge) -> scored, score_sum

A rate estimate (hallu_core/rates) needs the mean score over every output of a group; summing
500,000 scores at each page view cost seconds, this costs a lookup. The rows follow
`detection_latest` (one row per generation and detector: the newest detection), the generation's
checkpoint and decoding, and its example's knowledge (`example_knowledge`, summary.py): a trigger on
each of the three moves a row's score between keys in the same transaction as the write.
"""
from __future__ import annotations

from hallu_core.store.sides import trigger

KEY = "detector, checkpoint_id, decoding_name, knowledge"
TABLE = f"""
CREATE TABLE score_summary (
    detector TEXT NOT NULL, checkpoint_id TEXT NOT NULL, decoding_name TEXT NOT NULL, knowledge TEXT NOT NULL,
    scored INTEGER NOT NULL, score_sum REAL NOT NULL,
    PRIMARY KEY ({KEY})
) WITHOUT ROWID;
"""
_ADD = f"ON CONFLICT ({KEY}) DO UPDATE SET scored = scored + excluded.scored, score_sum = score_sum + excluded.score_sum;"
_CLEANUP = "DELETE FROM score_summary WHERE scored = 0;"


def _latest_row(r: str, sign: int) -> str:
    """detection_latest row R enters (+1) or leaves (-1) its generation's key."""
    return (f"INSERT INTO score_summary SELECT {r}.detector, g.checkpoint_id, g.decoding_name, "
            f"COALESCE(k.knowledge, ''), {sign}, {sign} * {r}.response_score FROM generations g "
            f"LEFT JOIN example_knowledge k ON k.example_id = g.example_id WHERE g.id = {r}.generation_id {_ADD}")


def _generation(r: str, sign: int) -> str:
    """Generation R's newest detections enter (+1) or leave (-1) its key."""
    return (f"INSERT INTO score_summary SELECT d.detector, {r}.checkpoint_id, {r}.decoding_name, "
            f"COALESCE((SELECT knowledge FROM example_knowledge WHERE example_id = {r}.example_id), ''), "
            f"{sign} * COUNT(*), {sign} * SUM(d.response_score) FROM detection_latest d "
            f"WHERE d.generation_id = {r}.id GROUP BY d.detector {_ADD}")


def _example(knowledge: str, example_id: str, sign: int) -> str:
    """Every generation of an example enters (+1) or leaves (-1) the keys of `knowledge`."""
    return (f"INSERT INTO score_summary SELECT d.detector, g.checkpoint_id, g.decoding_name, {knowledge}, "
            f"{sign} * COUNT(*), {sign} * SUM(d.response_score) FROM generations g "
            f"JOIN detection_latest d ON d.generation_id = g.id WHERE g.example_id = {example_id} "
            f"GROUP BY d.detector, g.checkpoint_id, g.decoding_name {_ADD}")


BACKFILL = ("INSERT INTO score_summary SELECT d.detector, g.checkpoint_id, g.decoding_name, "
            "COALESCE(k.knowledge, ''), COUNT(*), SUM(d.response_score) FROM detection_latest d "
            "JOIN generations g ON g.id = d.generation_id LEFT JOIN example_knowledge k ON k.example_id = g.example_id "
            "GROUP BY d.detector, g.checkpoint_id, g.decoding_name, COALESCE(k.knowledge, '');")

TRIGGERS = "".join([
    trigger("scores_latest_insert", "AFTER INSERT ON detection_latest", _latest_row("NEW", +1)),
    trigger("scores_latest_delete", "AFTER DELETE ON detection_latest", _latest_row("OLD", -1) + _CLEANUP),
    trigger("scores_latest_update", "AFTER UPDATE ON detection_latest",
            _latest_row("OLD", -1) + _latest_row("NEW", +1) + _CLEANUP),
    # a detection stored before its generation (foreign keys off) counts once the generation arrives
    trigger("scores_generation_insert", "AFTER INSERT ON generations", _generation("NEW", +1),
            when="EXISTS (SELECT 1 FROM detection_latest WHERE generation_id = NEW.id)"),
    trigger("scores_generation_delete", "AFTER DELETE ON generations", _generation("OLD", -1) + _CLEANUP),
    trigger("scores_generation_update", "AFTER UPDATE OF id, example_id, checkpoint_id, decoding_name ON generations",
            _generation("OLD", -1) + _generation("NEW", +1) + _CLEANUP),
    # an example's knowledge recorded or changed moves its generations' scores
    trigger("scores_knowledge_insert", "AFTER INSERT ON example_knowledge",
            _example("''", "NEW.example_id", -1) + _example("NEW.knowledge", "NEW.example_id", +1) + _CLEANUP),
    trigger("scores_knowledge_update", "AFTER UPDATE OF knowledge ON example_knowledge",
            _example("OLD.knowledge", "OLD.example_id", -1) + _example("NEW.knowledge", "NEW.example_id", +1)
            + _CLEANUP),
])

MIGRATION = TABLE + BACKFILL + TRIGGERS
