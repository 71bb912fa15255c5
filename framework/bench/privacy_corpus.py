"""The privacy corpus: secrets, personal and special-category data, and benign look-alikes.

`framework/bench/data/privacy_corpus.yaml` holds each secret once, as a user would say it, with its
value and a label naming what it is. This module loads it into typed items and derives the modes in
which a detector must still catch it:

- verbatim:       the user's own words ("pw: Summer2024!");
- paraphrased:    as an extraction model would restate it ("The user's password is Summer2024!");
- split_turns:    the user's words cut inside the value over two turns ("pw: Summ" / "er2024!");
- split_memories: two memories, each holding half ("The first half of the user's password is Summ" /
                  "The second half is er2024!");
- earlier_later:  the value said alone, then named in the next turn ("Summer2024!" / "that's my password");
- restated:       a later memory repeating the value without any keyword, after those two turns.

Each mode yields `Case`s: a candidate text and the context (earlier texts) it is read with. A case with
no context must be caught by `find_sensitive` alone; one with context by `find_sensitive_in_context`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

MODES = ("verbatim", "paraphrased", "split_turns", "split_memories", "earlier_later", "restated")
_PARAPHRASES = (
    "The user's {label} is {value}",
    "User said their {label} is {value}.",
    "{Label}: {value} (provided by the user)",
    "The user mentioned that the {label} is {value}",
)
_REFERENCES = ("that's my {label}", "that is my {label}", "it's my {label}", "this was my {label}")


@dataclass(frozen=True)
class SecretItem:
    id: str
    category: str  # "secret" | "pii" | "special"
    kind: str
    label: str  # what the value is ("wifi password", "IBAN", "diagnosis")
    value: str
    text: str
    paraphrase: str
    origin: str  # "before_tuning" | "after_tuning"


@dataclass(frozen=True)
class BenignItem:
    id: str
    reason: str
    text: str
    context: tuple[str, ...]
    origin: str


@dataclass(frozen=True)
class Case:
    """One item in one mode: `candidate` read after `context`; `value` must not survive redaction of
    the candidate when `redactable` (the value lies whole in it)."""

    item_id: str
    category: str
    kind: str
    mode: str
    value: str
    candidate: str
    context: tuple[str, ...] = ()
    redactable: bool = False


@dataclass(frozen=True)
class Corpus:
    secrets: tuple[SecretItem, ...]
    benign: tuple[BenignItem, ...]

    def cases(self, modes: tuple[str, ...] = MODES) -> Iterator[Case]:
        for i, item in enumerate(self.secrets):
            for mode in modes:
                yield from _MODES[mode](item, i)


def load(path: str | None = None) -> Corpus:
    """The corpus shipped with the package (or the YAML file at `path`)."""
    if path is None:
        text = resources.files("framework.bench").joinpath("data/privacy_corpus.yaml").read_text("utf-8")
    else:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw: dict[str, Any] = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    return Corpus(
        tuple(_secret(i, entry) for i, entry in enumerate(raw["secrets"])),
        tuple(
            BenignItem(
                e["id"], e["reason"], e["text"], tuple(e.get("context", ())), e.get("origin", "before_tuning")
            )
            for e in raw["benign"]
        ),
    )


def _secret(i: int, e: dict[str, Any]) -> SecretItem:
    label, value = e["label"], e["value"]
    paraphrase = e.get("paraphrase") or _PARAPHRASES[i % len(_PARAPHRASES)].format(
        label=label, Label=label[:1].upper() + label[1:], value=value
    )
    if value not in e["text"] or value not in paraphrase:
        raise ValueError(f"corpus item {e['id']}: its value is not in its text or paraphrase")
    return SecretItem(
        e["id"],
        e["category"],
        e["kind"],
        label,
        value,
        e["text"],
        paraphrase,
        e.get("origin", "before_tuning"),
    )


def _case(item: SecretItem, mode: str, candidate: str, context: tuple[str, ...] = (), **kw: Any) -> Case:
    return Case(item.id, item.category, item.kind, mode, item.value, candidate, context, **kw)


def _cut(value: str) -> int:
    """Where to split a value in two: at the space nearest its middle, else in the middle."""
    middle = len(value) // 2
    spaces = [i for i, c in enumerate(value) if c == " "]
    return min(spaces, key=lambda i: abs(i - middle)) if spaces else max(1, middle)


def _split(text: str, value: str) -> tuple[str, str]:
    at = text.index(value) + _cut(value)
    return text[:at].rstrip(" "), text[at:].lstrip(" ")


def _verbatim(item: SecretItem, _i: int) -> Iterator[Case]:
    yield _case(item, "verbatim", item.text, redactable=True)


def _paraphrased(item: SecretItem, _i: int) -> Iterator[Case]:
    yield _case(item, "paraphrased", item.paraphrase, redactable=True)


def _split_before(text: str, value: str) -> tuple[str, str]:
    at = text.index(value)
    return text[:at].rstrip(" "), text[at:]


def _split_turns(item: SecretItem, _i: int) -> Iterator[Case]:
    # a token typed in two goes (secrets, numbers); a sentence said in two goes (special-category data,
    # which is in the meaning of words, not in their letters)
    split = _split_before if item.category == "special" else _split
    first, second = split(item.text, item.value)
    yield _case(item, "split_turns", second, (first,))


def _split_memories(item: SecretItem, _i: int) -> Iterator[Case]:
    if item.category == "special":  # a sentence cut in two memories before its sensitive term
        first, second = _split_before(item.paraphrase, item.value)
    else:
        cut = _cut(item.value)
        first = f"The first half of the user's {item.label} is {item.value[:cut].rstrip()}"
        second = f"The second half is {item.value[cut:].lstrip()}"
        yield _case(item, "split_memories", first)  # a keyword and half a value: a finding on its own
    yield _case(item, "split_memories", second, (first,))


def _earlier(item: SecretItem, i: int) -> tuple[str, str]:
    return item.value, _REFERENCES[i % len(_REFERENCES)].format(label=item.label)


def _earlier_later(item: SecretItem, i: int) -> Iterator[Case]:
    earlier, later = _earlier(item, i)
    yield _case(item, "earlier_later", later, (earlier,))


def _restated(item: SecretItem, i: int) -> Iterator[Case]:
    earlier, later = _earlier(item, i)
    yield _case(item, "restated", f"The user mentioned {item.value}", (earlier, later))


_MODES = {
    "verbatim": _verbatim,
    "paraphrased": _paraphrased,
    "split_turns": _split_turns,
    "split_memories": _split_memories,
    "earlier_later": _earlier_later,
    "restated": _restated,
}
