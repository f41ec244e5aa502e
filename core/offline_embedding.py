"""The offline model's embeddings: a hashed bag of words, so a fresh machine without a key
still retrieves by word overlap. Deterministic: the same text always gives the same vector."""

from __future__ import annotations

import hashlib
import math
import re

OFFLINE_DIMENSION = 256
_WORD = re.compile(r"\w+")


def offline_embedding(text: str, dimension: int = OFFLINE_DIMENSION) -> list[float]:
    """Each word (lower-cased) adds ±1 to one coordinate chosen by its hash; the vector is
    normalised, so the cosine of two texts grows with the words they share."""
    vector = [0.0] * dimension
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "big") % dimension
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector
