"""From call records to reduced signature vectors: distinct parts embedded once each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slmconvert.cluster.embed import embed_unique
from slmconvert.cluster.reduce import one_hot
from slmconvert.cluster.signature import SignatureOptions, TaskSignature, task_signature
from slmconvert.engine.base import Engine
from slmconvert.models.embedder import Embedder


@dataclass
class SignatureSet:
    """Distinct signatures of a batch of calls, in a deterministic (sorted) order."""

    contexts: list[str]
    requests: list[str]
    structures: list[str]
    rows: np.ndarray  # (signatures, 3): indices into contexts, requests, structures
    counts: np.ndarray  # calls per signature
    call_signature: np.ndarray  # signature row per call

    def texts(self) -> list[str]:
        """Each signature as one readable line."""
        return [TaskSignature(self.contexts[c], self.requests[r], self.structures[s]).text
                for c, r, s in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


def signature_set(records: Sequence[dict], options: SignatureOptions) -> SignatureSet:
    """Sign every record and index the distinct parts and part combinations."""
    signed = [task_signature(r, options) for r in records]
    vocab = [sorted({getattr(s, part) for s in signed}) for part in ("context", "request", "structure")]
    index = [{t: i for i, t in enumerate(v)} for v in vocab]
    codes = np.array([[index[0][s.context], index[1][s.request], index[2][s.structure]] for s in signed],
                     dtype=np.int64).reshape(-1, 3)
    rows, call_signature, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    return SignatureSet(vocab[0], vocab[1], vocab[2], rows.reshape(-1, 3), counts, call_signature.reshape(-1))


def part_vectors(
    sigs: SignatureSet,
    embedder: Embedder,
    cache_root: Path | None = None,
    advance: Callable[[int], None] | None = None,
    engine: Engine | None = None,
) -> tuple[list[np.ndarray], int]:
    """[context, request, structure] part matrices, and how many texts came from the cache."""
    context, hits_c = embed_unique(sigs.contexts, embedder, cache_root, advance, engine)
    request, hits_r = embed_unique(sigs.requests, embedder, cache_root, advance, engine)
    return [context, request, one_hot(sigs.structures, sigs.structures)], hits_c + hits_r
