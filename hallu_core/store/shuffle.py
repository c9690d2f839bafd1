"""A fixed pseudo-random key per generation, stored with it: the Label page's random order.

The key is a hash of the generation's id (CRC-32, mixed by MurmurHash3's finalizer so that ids differing
in a character or two, "17" and "18", land far apart), so the random order is the same on every reload,
in every session and for every annotator, and outputs added later do not reorder the others. Stored in
`generations.shuffle_key` with two indexes, alone and per checkpoint (migration 11), so that a queue of the
first few hundred in random order walks an index instead of hashing and sorting every output (seconds at
500k outputs: docs/benchmarks.md).
"""
from __future__ import annotations

import zlib

SHUFFLE_SEED = 0x68616C6C  # "hall": fixed, so that the random order never changes
SQL_FUNCTION = "hallu_shuffle_key"  # registered on every connection the store opens (the migration calls it)
_MASK = 0xFFFFFFFF


def shuffle_key(generation_id: str) -> int:
    h = zlib.crc32(generation_id.encode("utf-8"), SHUFFLE_SEED)
    for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h ^= h >> shift
        h = (h * multiplier) & _MASK
    return h ^ (h >> 16)


MIGRATION = f"""
ALTER TABLE generations ADD COLUMN shuffle_key INTEGER;
UPDATE generations SET shuffle_key = {SQL_FUNCTION}(id);
CREATE INDEX generations_shuffle ON generations(shuffle_key);
CREATE INDEX generations_checkpoint_shuffle ON generations(checkpoint_id, shuffle_key);
"""
# a row written by another tool (no key, or a wrong one): counted and mended by `hallu repair`
WRONG = f"shuffle_key IS NOT {SQL_FUNCTION}(id)"
REPAIR = f"UPDATE generations SET shuffle_key = {SQL_FUNCTION}(id) WHERE {WRONG}"
