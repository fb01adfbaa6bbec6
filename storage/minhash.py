"""MinHash fingerprints of article text, and the bands that index them (rung 4).

The text is folded (NFKC, case-folded), split into words, and cut into overlapping
shingles of `SHINGLE_WORDS` words. A shingle set's MinHash signature keeps, for each of
`PERMUTATIONS` hash functions, the smallest hash over the set: two texts agree on a
position with a probability equal to the Jaccard similarity of their shingle sets
(Broder 1997, https://doi.org/10.1109/SEQUEN.1997.666900).

The signature is cut into `BANDS` bands of `ROWS` positions; each band hashes to one
64-bit bucket. Two texts share at least one bucket with probability
1 - (1 - J^ROWS)^BANDS: 0.98 at J = 0.6, 0.52 at J = 0.3, 0.02 at J = 0.1, so similar
texts meet in some bucket and unrelated ones almost never do (Leskovec, Rajaraman and
Ullman, *Mining of Massive Datasets*, ch. 3.4). A shared bucket only makes a candidate:
the store then compares the shingle sets themselves.

Everything here is pure and deterministic across processes (no `hash()`, which Python
salts per process), so daemons and `newswatch dedupe rebuild` compute the same values.
"""

from __future__ import annotations

import hashlib
import operator
import re
import struct
import unicodedata
from collections.abc import Sequence

SHINGLE_WORDS = 4
BANDS = 20
ROWS = 3
PERMUTATIONS = BANDS * ROWS
_WORDS = re.compile(r"\w+")
_SIGNATURE = struct.Struct(f">{PERMUTATIONS}I")
_BUCKET = struct.Struct(f">B{ROWS}I")


def words(text: str) -> list[str]:
    """Return the words of `text`, folded for comparison."""
    return _WORDS.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str) -> frozenset[str]:
    """Return the set of `SHINGLE_WORDS`-word shingles of `text`.

    A text shorter than one shingle yields an empty set: it has no fingerprint.
    """
    found = words(text)
    size = SHINGLE_WORDS
    return frozenset(" ".join(found[i : i + size]) for i in range(len(found) - size + 1))


def signature(shingle_set: frozenset[str]) -> tuple[int, ...]:
    """Return the MinHash signature of a non-empty shingle set.

    One SHAKE-128 digest per shingle gives all `PERMUTATIONS` 32-bit hashes at once
    (little-endian); laid end to end they form a shingles x permutations matrix, whose
    column minimums numpy takes in C (four times faster than Python's strided `min`).
    """
    if not shingle_set:
        raise ValueError("minhash: an empty shingle set has no signature")
    # Imported here: numpy costs a process some 15 MB, and only the worker processes
    # compute signatures; the daemon compares and stores them.
    import numpy as np

    size = PERMUTATIONS * 4
    data = b"".join(hashlib.shake_128(s.encode()).digest(size) for s in shingle_set)
    matrix = np.frombuffer(data, dtype="<u4").reshape(-1, PERMUTATIONS)
    return tuple(int(value) for value in matrix.min(axis=0))


def buckets(sig: Sequence[int]) -> list[int]:
    """Return the signature's band buckets: one signed 64-bit key per band.

    The band number is hashed in, so one key column indexes every band.
    """
    keys = []
    for band in range(BANDS):
        rows = sig[band * ROWS : (band + 1) * ROWS]
        digest = hashlib.blake2b(_BUCKET.pack(band, *rows), digest_size=8).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def pack(sig: Sequence[int]) -> bytes:
    """Return the signature as stored: `PERMUTATIONS` big-endian 32-bit integers."""
    return _SIGNATURE.pack(*sig)


def unpack(data: bytes) -> tuple[int, ...]:
    """Return a stored signature."""
    return tuple(_SIGNATURE.unpack(data))


def estimate(a: Sequence[int], b: Sequence[int]) -> float:
    """Return the Jaccard similarity two signatures estimate."""
    if len(a) != len(b):
        raise ValueError("minhash: signatures of different lengths")
    return sum(map(operator.eq, a, b)) / len(a)  # a third of a generator's time


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Return the shingles the sets share over all their shingles; 0 for two empty sets."""
    if not a and not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)
