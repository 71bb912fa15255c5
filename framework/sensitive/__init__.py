"""Secrets and personal data: found, and redacted, before anything is stored or logged.

A floor below both the loop and memory, so either can use it without reaching into the other.
Findings come in three categories (`finding.CATEGORIES`): "secret", "pii" and "special" (GDPR art. 9),
and every function takes keyword flags to ask for some of them only.
"""

from framework.sensitive.checksums import luhn_ok
from framework.sensitive.context import find_sensitive_in_context
from framework.sensitive.detect import find_sensitive, redact, repeats_secret, sensitive_values
from framework.sensitive.finding import CATEGORIES, PII, SECRET, SPECIAL, Finding, category_of

__all__ = [
    "CATEGORIES",
    "PII",
    "SECRET",
    "SPECIAL",
    "Finding",
    "category_of",
    "find_sensitive",
    "find_sensitive_in_context",
    "luhn_ok",
    "redact",
    "repeats_secret",
    "sensitive_values",
]
