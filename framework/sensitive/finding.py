"""What a detector reports: a `Finding` (public) and a `Hit` (internal, in byte offsets, with evidence).

A finding has a kind ("password", "card_number", "health", ...) and a category, so that a policy can
treat secrets, personal data and special-category data (GDPR art. 9) differently:

- "secret":  credentials and keys (passwords, PINs, tokens, API keys, private keys, connection strings);
- "pii":     personal identifiers (card numbers, IBANs, national ids, emails, phones);
- "special": special-category data (health, sexual orientation, religion, political opinion,
             trade-union membership, ethnicity, biometric and genetic data).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SECRET, PII, SPECIAL = "secret", "pii", "special"
CATEGORIES = (SECRET, PII, SPECIAL)

_PII_KINDS = {
    "card_number",
    "bank_account",
    "iban",
    "ssn",
    "nino",
    "bsn",
    "aadhaar",
    "passport",
    "drivers_license",
    "tax_id",
    "national_id",
    "email",
    "phone",
}
_SPECIAL_KINDS = {
    "health",
    "sexual_orientation",
    "religion",
    "political_opinion",
    "trade_union",
    "ethnicity",
    "biometric",
    "genetic",
}
SPECIAL_KINDS = frozenset(_SPECIAL_KINDS)


def category_of(kind: str) -> str:
    """The category a kind belongs to; every kind not listed as PII or special is a secret."""
    if kind in _SPECIAL_KINDS:
        return SPECIAL
    return PII if kind in _PII_KINDS else SECRET


@dataclass(frozen=True)
class Finding:
    """A secret or piece of personal data at `text[start:end]`.

    `value` is the sensitive value itself (a password without its "password is", an IBAN without its
    spaces kept as written); it is left out of repr() so that logging a finding never logs the secret.
    """

    kind: str
    start: int
    end: int
    category: str = SECRET
    value: str = field(default="", repr=False, compare=False)


# Hits found by the shape of the value (a checksum, a provider prefix) outrank those found by grammar.
SHAPE, STRUCTURE, GRAMMAR, REFERENCE = 3, 2, 1, 0


@dataclass(slots=True)
class Hit:
    """A detector's raw result, in byte offsets of the UTF-8 text.

    `start`/`end` bound the value; `ev_start`/`ev_end` bound the evidence (keyword, connector and value),
    which is what decides whether a hit "involves" a text joined from several turns. `needs` marks a hit
    that is not a finding on its own: "company" (a keyword-less "the second half is X" counts only shortly
    after a fragment statement, "the first half of the key is Y") or "referent" ("that's my card number"
    counts only right after a finding). `fragment` marks a hit that states part of a secret.
    """

    kind: str
    start: int
    end: int
    value: str
    priority: int = GRAMMAR
    ev_start: int = -1
    ev_end: int = -1
    needs: str = ""
    fragment: bool = False

    def __post_init__(self) -> None:
        if self.ev_start < 0:
            self.ev_start = self.start
        if self.ev_end < 0:
            self.ev_end = self.end

    @property
    def category(self) -> str:
        return category_of(self.kind)
