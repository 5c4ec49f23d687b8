"""A seeded, reproducible byte generator for test vectors and tests.

Never used for real elections (the edges pass ``secrets.token_bytes``): it exists
so that ``tools/make_vectors.py`` produces the same ciphertexts and proofs on
every run and the browser implementation can be checked against them byte for
byte.  Output block i is SHA-512(lp("evote/v1/edwards25519") || lp("drbg") ||
lp(seed) || lp(i as 8-byte big-endian)).
"""

from __future__ import annotations

from evote.hashing import enc_int, sha512, transcript

TAG_DRBG = b"drbg"


class SeededRng:
    """``rng(n)`` returning the next n bytes of a SHA-512 counter-mode stream."""

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        self._counter = 0
        self._buf = b""

    def __call__(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._buf += sha512(transcript(TAG_DRBG, [self._seed, enc_int(self._counter)]))
            self._counter += 1
        out, self._buf = self._buf[:n], self._buf[n:]
        return out
