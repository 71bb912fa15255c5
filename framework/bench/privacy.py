"""What the privacy detector catches and what it costs: the corpus in every mode, and a 1 MB scan.

Detector-level, no agent: each case of `privacy_corpus` goes through `find_sensitive` (no context) or
`find_sensitive_in_context` (with context), as the write path would. A case is "stored" when nothing is
found, that is when the secret would reach long-term memory. Benign texts are scanned alone and after an
earlier turn that held a secret (a realistic context: the turn before is often the sensitive one).

Timings are CPU time of this process (medians of a few runs): a 1 MB message of ordinary text with a
secret every few kilobytes, the same size of corpus text (one finding every ~100 bytes), and
adversarial inputs (a 16 KB line of underscores, 1 MB of "a", 1 MB of "password is ", ...).
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from framework.bench.privacy_corpus import MODES, Case, Corpus, load
from framework.sensitive import find_sensitive, find_sensitive_in_context, redact

_PROSE = (
    "The team met on Tuesday to review the roadmap for the second quarter.",
    "We agreed to ship version 2.4.1 in May and to deprecate the old export endpoint.",
    "Ada will write the migration guide; Lin owns the dashboards and the alerting rules.",
    "Latency at p99 was 240 ms last week, down from 310 ms after the cache change.",
    "2024-05-14T09:21:07Z INFO request_id=7f3c2a91 path=/v1/orders status=200 duration_ms=41",
    "def total(items):\n    return sum(item.price * item.quantity for item in items)",
    "DATABASE_URL is read from the environment; never commit it. See docs/deploy.md.",
    "Order 88213 shipped on 3 June; the invoice total was 1,249.00 EUR including VAT.",
    "I prefer dark mode, tabs over spaces, and reviews that explain the why.",
    "The meeting about the password policy moved to Thursday at 14:00 in room 4.021.",
)


def detects(case: Case) -> bool:
    """Whether the detector keeps this case out of memory. Special-category data is in the meaning of
    words, not in their letters: a sentence split in two is caught if either half is flagged."""
    if not case.context:
        return bool(find_sensitive(case.candidate))
    if find_sensitive_in_context(case.candidate, list(case.context)):
        return True
    return (
        case.category == "special"
        and case.mode.startswith("split")
        and bool(find_sensitive(case.context[-1]))
    )


def leaks(case: Case) -> bool:
    """Whether redacting the candidate leaves the value in it (cases whose candidate holds it whole)."""
    return case.redactable and case.value in redact(case.candidate)


def benign_in_context(corpus: Corpus) -> list[tuple[str, list[str]]]:
    """Each benign text after an earlier turn that held a secret (three different secrets each)."""
    secrets = [s.text for s in corpus.secrets]
    return [
        (b.text, [secrets[(i * 3 + k) % len(secrets)], *b.context])
        for i, b in enumerate(corpus.benign)
        for k in range(3)
    ]


def typical_message(corpus: Corpus, size: int = 1_000_000, seed: int = 7) -> str:
    """About `size` characters of ordinary text (notes, logs, code) with one corpus secret per ~4 KB."""
    rng = random.Random(seed)
    parts: list[str] = []
    length, since_secret = 0, 0
    while length < size:
        if since_secret > 4000:
            text, since_secret = rng.choice(corpus.secrets).text, 0
        else:
            text = rng.choice(_PROSE)
            since_secret += len(text)
        parts.append(text)
        length += len(text) + 1
    return "\n".join(parts)[:size]


def dense_message(corpus: Corpus, size: int = 1_000_000, seed: int = 7) -> str:
    """About `size` characters of corpus texts only: a secret or look-alike every ~100 bytes."""
    rng = random.Random(seed)
    texts = [b.text for b in corpus.benign] * 3 + [s.text for s in corpus.secrets]
    parts: list[str] = []
    length = 0
    while length < size:
        text = rng.choice(texts)
        parts.append(text)
        length += len(text) + 1
    return "\n".join(parts)[:size]


ADVERSARIAL: dict[str, Callable[[], str]] = {
    "underscores_16kb": lambda: "_" * 16_000,
    "a_1mb": lambda: "a" * 1_000_000,
    "password_is_1mb": lambda: ("password is " * 90_000)[:1_000_000],
    "is_my_password_1mb": lambda: ("is my password " * 70_000)[:1_000_000],
    "digit_groups_1mb": lambda: ("1234 " * 200_000)[:1_000_000],
    "one_token_1mb": lambda: "sk-" + "a" * 999_997,
    "first_half_of_the_key_1mb": lambda: ("the first half of the key is " * 35_000)[:1_000_000],
}


def _cpu_ms(fn: Callable[[str], Any], text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn(text)
        times.append(time.process_time() - start)
    return round(statistics.median(times) * 1000, 1)


def measure(runs: int = 3, timings: bool = True) -> dict[str, Any]:
    """Detection figures over the corpus (by category and by mode), and scan times in milliseconds."""
    corpus = load()
    tried: Counter[str] = Counter()
    stored: Counter[str] = Counter()
    missed: list[str] = []
    leaked: list[str] = []
    for case in corpus.cases():
        key = f"{case.category}/{case.mode}"
        tried[key] += 1
        if not detects(case):
            stored[key] += 1
            missed.append(f"{case.item_id} ({case.mode})")
        elif leaks(case):
            leaked.append(f"{case.item_id} ({case.mode})")
    flagged = [b.id for b in corpus.benign if find_sensitive(b.text)]
    in_context = benign_in_context(corpus)
    flagged_in_context = sum(1 for text, context in in_context if find_sensitive_in_context(text, context))
    result: dict[str, Any] = {
        "secrets": len(corpus.secrets),
        "benign": len(corpus.benign),
        "by_category": {
            category: {
                "tried": sum(n for k, n in tried.items() if k.startswith(category + "/")),
                "stored": sum(n for k, n in stored.items() if k.startswith(category + "/")),
            }
            for category in ("secret", "pii", "special")
        },
        "by_mode": {
            mode: {
                "tried": sum(n for k, n in tried.items() if k.endswith("/" + mode)),
                "stored": sum(n for k, n in stored.items() if k.endswith("/" + mode)),
            }
            for mode in MODES
        },
        "missed": missed,
        "redaction_leaks": leaked,
        "benign_rejected": len(flagged),
        "benign_rejected_ids": flagged,
        "benign_in_context_tried": len(in_context),
        "benign_in_context_rejected": flagged_in_context,
    }
    if timings:
        typical, dense = typical_message(corpus), dense_message(corpus)
        result["scan_ms_1mb"] = {
            "typical_find_sensitive": _cpu_ms(find_sensitive, typical, runs),
            "typical_redact": _cpu_ms(redact, typical, runs),
            "dense_find_sensitive": _cpu_ms(find_sensitive, dense, runs),
            "dense_redact": _cpu_ms(redact, dense, runs),
        }
        result["adversarial_ms"] = {name: _cpu_ms(redact, make(), runs) for name, make in ADVERSARIAL.items()}
    return result
