"""The work of one layer launch, as the cost models and the engine see it."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil


@dataclass(frozen=True)
class Work:
    """``tokens`` new tokens in packs of ``pack_tokens``; attention reduces over ``keys``
    keys per row (prefill: the whole prompt, as the chen2024 arrays compute every key and
    the mask discards future ones; decode: context + 1); ``cached`` tokens of K/V are
    already in the off-chip cache."""

    phase: str
    tokens: int
    pack_tokens: int
    keys: int
    cached: int

    @property
    def packs(self) -> int:
        return ceil(self.tokens / self.pack_tokens)

    def pack_sizes(self) -> tuple[int, ...]:
        full, last = divmod(self.tokens, self.pack_tokens)
        return (self.pack_tokens,) * full + ((last,) if last else ())


def prefill_work(prompt_len: int, pack_tokens: int) -> Work:
    return Work("prefill", prompt_len, pack_tokens, keys=prompt_len, cached=0)


def decode_work(context: int, pack_tokens: int) -> Work:
    """One generated token whose attention spans ``context`` cached tokens and itself."""
    return Work("decode", 1, pack_tokens, keys=context + 1, cached=context)
