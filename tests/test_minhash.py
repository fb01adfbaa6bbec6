"""MinHash signatures and band buckets: deterministic, and faithful to Jaccard."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from storage import minhash

TEXT = (
    "Ukrainian President Volodymyr Zelensky said on Sunday that North Korean troops are "
    "fighting alongside Russian forces, and that the alliance between Moscow and Pyongyang "
    "now goes beyond the transfer of weapons to the transfer of people."
)


def test_shingles_fold_case_accents_and_punctuation() -> None:
    assert minhash.shingles("Le Café, ÉTÉ: one two") == minhash.shingles("le café été one two")
    assert minhash.shingles("three short words") == frozenset()
    assert len(minhash.shingles(TEXT)) == len(minhash.words(TEXT)) - minhash.SHINGLE_WORDS + 1


def test_signature_is_the_same_in_another_process() -> None:
    sig = minhash.signature(minhash.shingles(TEXT))
    code = (
        "from storage import minhash; import sys; "
        "print(minhash.buckets(minhash.signature(minhash.shingles(sys.argv[1]))))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, TEXT], capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == str(minhash.buckets(sig))
    assert minhash.unpack(minhash.pack(sig)) == sig
    assert len(minhash.buckets(sig)) == minhash.BANDS


@given(st.lists(st.integers(0, 400), min_size=20, max_size=200, unique=True))
# Not Hypothesis's 200 ms: the first signature of a process imports numpy (storage.minhash).
@settings(deadline=timedelta(seconds=5))
def test_estimate_tracks_jaccard(removed: list[int]) -> None:
    words = [f"w{n}" for n in range(400)]
    kept = [w for n, w in enumerate(words) if n not in set(removed)]
    a, b = minhash.shingles(" ".join(words)), minhash.shingles(" ".join(kept))
    true = minhash.jaccard(a, b)
    guess = minhash.estimate(minhash.signature(a), minhash.signature(b))
    # 60 permutations: the standard error is at most 0.065; 5 of them is rare enough.
    assert abs(guess - true) < 0.33
