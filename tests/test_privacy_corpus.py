"""Every secret of the privacy corpus, in every mode, is kept out of memory; benign texts are not.

The corpus (framework/bench/data/privacy_corpus.yaml) and its modes are described in
framework/bench/privacy_corpus.py. Timing is not asserted here: `framework.bench.privacy.measure()`
reports it.
"""

from __future__ import annotations

import pytest

from framework.bench.privacy import benign_in_context, detects, leaks
from framework.bench.privacy_corpus import MODES, Case, Corpus, load
from framework.sensitive import CATEGORIES, find_sensitive, find_sensitive_in_context, redact


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load()


def _cases(corpus: Corpus, mode: str) -> list[Case]:
    return list(corpus.cases((mode,)))


def test_the_corpus_is_large_varied_and_well_formed(corpus: Corpus) -> None:
    assert len(corpus.secrets) >= 300 and len(corpus.benign) >= 150
    assert {s.category for s in corpus.secrets} == set(CATEGORIES)
    assert len({s.id for s in corpus.secrets} | {b.id for b in corpus.benign}) == len(corpus.secrets) + len(
        corpus.benign
    )
    assert len({s.value for s in corpus.secrets}) == len(corpus.secrets)
    assert len({s.kind for s in corpus.secrets}) >= 25
    assert {s.origin for s in corpus.secrets} == {"before_tuning", "after_tuning"}
    for mode in MODES:
        assert len(_cases(corpus, mode)) >= len(corpus.secrets), mode


@pytest.mark.parametrize("mode", MODES)
def test_no_secret_is_missed(corpus: Corpus, mode: str) -> None:
    missed = [(c.item_id, c.candidate, c.context) for c in _cases(corpus, mode) if not detects(c)]
    assert missed == [], f"{len(missed)} missed in mode {mode}"


@pytest.mark.parametrize("mode", ["verbatim", "paraphrased"])
def test_findings_carry_the_category_of_the_item(corpus: Corpus, mode: str) -> None:
    wrong = [
        (c.item_id, c.category, sorted({f.category for f in find_sensitive(c.candidate)}))
        for c in _cases(corpus, mode)
        if c.category not in {f.category for f in find_sensitive(c.candidate)}
    ]
    assert wrong == []


@pytest.mark.parametrize("mode", ["verbatim", "paraphrased"])
def test_redaction_leaves_no_secret_value(corpus: Corpus, mode: str) -> None:
    leaked = [(c.item_id, c.candidate) for c in _cases(corpus, mode) if leaks(c)]
    assert leaked == []


def test_benign_texts_are_not_flagged(corpus: Corpus) -> None:
    flagged = [(b.id, b.text) for b in corpus.benign if find_sensitive(b.text)]
    assert len(flagged) <= len(corpus.benign) // 100, flagged  # at most 1% (none at the last count)


def test_benign_texts_in_their_context_are_not_flagged(corpus: Corpus) -> None:
    with_context = [b for b in corpus.benign if b.context]
    assert with_context
    assert [(b.id, b.text) for b in with_context if find_sensitive_in_context(b.text, list(b.context))] == []


def test_benign_texts_after_a_secret_are_not_flagged(corpus: Corpus) -> None:
    """The turn before a harmless one often held a secret: reading them together must not taint it."""
    pairs = benign_in_context(corpus)
    flagged = [(text, context) for text, context in pairs if find_sensitive_in_context(text, context)]
    assert len(flagged) <= len(pairs) // 100, flagged


def test_public_test_cards_are_benign_only_in_a_test_context(corpus: Corpus) -> None:
    tests = [b for b in corpus.benign if "test card" in b.reason]
    assert tests and all(not find_sensitive(b.text) for b in tests)
    said_as_own = [s for s in corpus.secrets if s.value in ("4111.1111.1111.1111", "4242 4242 4242 4242")]
    assert said_as_own and all(find_sensitive(s.text) for s in said_as_own)


def test_a_value_named_after_it_is_found(corpus: Corpus) -> None:
    """How an extraction model may restate what it was told in two turns: "<value> is the user's <label>"."""
    missed = [
        (s.id, text)
        for s in corpus.secrets
        if not find_sensitive(text := f"{s.value} is the user's {s.label}") or s.value in redact(text)
    ]
    assert missed == []
