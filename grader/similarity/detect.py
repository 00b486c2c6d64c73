"""Pairwise similarity of code with copydetect's fingerprints, deterministic and offline.

copydetect tokenises the code with pygments (every name becomes ``V``/``F``/``O``, every
string ``S``, whitespace and comments go), hashes each k-gram of the filtered text and
compares the sets; a file's similarity to another is the share of its own fingerprinted
tokens found in the other. k-grams found in the starter code are removed first.

copydetect's winnowing (a window over Python's ``hash``) picks different fingerprints in
every process (string hashing is salted), so this module keeps *every* k-gram (window 1,
copydetect's "guarantee threshold = noise threshold"): the numbers do not depend on the
hash function, and the same code gives the same numbers on every run.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass

import numpy as np

NOISE = 25  # k: the shortest match that counts, in characters of filtered code (copydetect's default)
THRESHOLD = 0.5  # a pair at or above this similarity is flagged


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    similarity_a: float  # share of a's fingerprinted tokens found in b
    similarity_b: float
    overlap_tokens: int
    slices_a: tuple[tuple[int, int], ...]  # copied character ranges of a's code
    slices_b: tuple[tuple[int, int], ...]

    @property
    def similarity(self) -> float:
        return max(self.similarity_a, self.similarity_b)


def _fingerprint(code: str, noise: int, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint("code.py", noise, 1, boilerplate, fp=io.StringIO(code))


def compare(codes: dict[str, str], starter: list[str] = (), noise: int = NOISE) -> list[Pair]:
    """Every pair of ``codes`` (name -> code) that shares at least one fingerprint, most similar
    first (then by names); ``starter`` code never counts."""
    if not isinstance(noise, int) or noise < 5:
        raise ValueError(f"noise must be an integer of at least 5 characters, got {noise!r}")
    from copydetect import compare_files

    hashes = [h for code in starter for h in _fingerprint(code, noise).hashes]
    boilerplate = np.unique(np.asarray(hashes, dtype=np.int64))
    prints = {name: _fingerprint(codes[name], noise, boilerplate) for name in sorted(codes)}
    pairs = []
    for a, b in itertools.combinations(sorted(prints), 2):
        if not prints[a].hashes & prints[b].hashes:
            continue
        overlap, (sim_a, sim_b), (slices_a, slices_b) = compare_files(prints[a], prints[b])
        pairs.append(Pair(a, b, round(float(sim_a), 4), round(float(sim_b), 4), int(overlap),
                          _ranges(slices_a), _ranges(slices_b)))
    pairs.sort(key=lambda p: (-p.similarity, p.a, p.b))
    return pairs


def _ranges(slices) -> tuple[tuple[int, int], ...]:
    s = np.asarray(slices)
    return tuple((int(x), int(y)) for x, y in zip(s[0], s[1])) if s.size else ()
