"""Credential and identifier keywords, grouped in families, and what each family accepts as a value.

A family decides two things: the kind of a finding ("password", "pin", "card_number", ...) and how much
evidence the value itself must carry. After a strong keyword ("password", "passcode") any word that is
not a description is a value; after a weak one ("secret", "token", "key") the value must look generated
("the secret is out" is not a secret); after a PIN or an identifier keyword it must have digits, and an
identifier with a checksum must pass it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from framework.sensitive import checksums
from framework.sensitive.values import is_description, is_placeholder, strong, trim, word_value

# Alternations (RE2 and Python syntax alike), longest phrases first: the first alternative that lets the
# whole pattern match wins, so "secret access key" must come before "secret".
PHRASE = r"pass ?phrases?|seed (?:phrases?|words)|recovery (?:phrases?|seeds?)|mnemonic(?: phrases?)?"
PASSWORD = (
    r"pass(?:words?|wd)|pass[ -]words?|pwd|pw|pswd|p/w|passwort|contrase(?:ñ|n)a|"
    r"mot de passe|wachtwoord|senha|credentials|creds|(?:wi-?fi|wpa2?|wep|network) keys?"
)
PIN = (
    r"pass ?codes?|pin ?(?:codes?|numbers?|no)|pins?|(?:door|gate|alarm|garage|lock|safe|entry|access|"
    r"building|keypad|locker|vault|security|verification|one[- ]time|otp|2fa|mfa|backup|recovery|unlock|"
    r"phone|sim|voicemail|house|apartment|padlock) ?codes?|codes?|cvv2?|cvc2?|csc|combination|otp|puk"
)
APIKEY = (
    r"secret[ _-]?access[ _-]?keys?|api[ _-]?keys?|apikeys?|access[ _-]?keys?(?:[ _-]?ids?)?|app[ _-]?keys?|"
    r"subscription[ _-]?keys?|developer[ _-]?keys?|keys?[ _-]ids?"
)
SECRET = (
    r"client[ _-]?secrets?|shared[ _-]?secrets?|app[ _-]?secrets?|signing[ _-]?(?:keys?|secrets?)|"
    r"encryption[ _-]?keys?|master[ _-]?keys?|private[ _-]?keys?(?:[ _-]?ids?)?|recovery[ _-]?keys?|"
    r"licen[cs]e[ _-]?keys?|product[ _-]?keys?|activation[ _-]?(?:keys?|codes?)|"
    r"secret[ _-]?keys?|secrets?"
)
TOKEN = r"tokens?|jwts?|bearer|(?:sas )?signatures?|(?:account |api key )?sids?"
CONNECTION = (
    r"connection[ _-]?strings?|database[ _-]?urls?|dsns?|urls?|uris?|git remotes?|webhooks?|proxy(?: urls?)?"
)
KEY = r"keys?"
CARD = r"(?:credit |debit |payment |bank )?card(?: number| no| num)?s?|cc(?: number| no)?|card numbers?"
ACCOUNT = (
    r"(?:bank )?account (?:numbers?|no|num)|acct(?: number| no)?|routing (?:number|no)|sort ?codes?|ibans?|"
    r"accounts?"
)
IDENTITY = (
    r"social security(?: numbers?| no)?|ssns?|social insurance numbers?|sin|socials?|bsn|"
    r"burgerservicenummer|sofi(?:nummer)?|citizen service numbers?|aadhaa?r(?: numbers?| no| card)?|"
    r"uidai(?: numbers?| no)?|nino|national insurance(?: numbers?| no)?|ni (?:number|no)|"
    r"passport(?: numbers?| no)?|driver'?s? licen[cs]e(?: numbers?| no)?|"
    r"driving licen[cs]e(?: numbers?| no)?|licen[cs]e numbers?|tax (?:id|numbers?|file numbers?|"
    r"identification numbers?)|tin|itin|ein|nhs numbers?|medicare numbers?|national id(?: numbers?| no)?|"
    r"id numbers?|personal (?:id|identification) numbers?|personnummer|dni|codice fiscale|steuer-?id|cpf|curp"
)
FAMILIES = (  # (name, alternation), in the order the combined alternation tries them
    ("phrase", PHRASE),
    ("password", PASSWORD),
    ("apikey", APIKEY),
    ("secret", SECRET),
    ("pin", PIN),
    ("token", TOKEN),
    ("connection", CONNECTION),
    ("card", CARD),
    ("account", ACCOUNT),
    ("identity", IDENTITY),
    ("key", KEY),
)
ANY = "|".join(f"(?:{alt})" for _, alt in FAMILIES)
_CLASSIFIERS = [(name, re.compile(f"(?:{alt})", re.IGNORECASE)) for name, alt in FAMILIES]
# "code" after one of these words names something public: a zip code, an error code, a promo code.
_PUBLIC_CODE = frozenset(
    """zip postal post area country error status exit return response http source promo discount coupon
    voucher referral invite invitation tracking product item sku bar qr colour color dial iso airport currency
    language region station course class room dress morse machine byte op short cheat gift bank swift
    building zone time""".split()
)


@dataclass(frozen=True)
class Family:
    name: str
    keyword: str  # the keyword as written, lower-cased

    @property
    def kind(self) -> str:
        return _kind(self.name, self.keyword)


@lru_cache(maxsize=512)
def family_of(keyword: str) -> Family | None:
    """The family of a matched keyword ("Wi-Fi password" -> secret, "SSN" -> identity)."""
    k = " ".join(keyword.lower().split())
    for name, pattern in _CLASSIFIERS:
        if pattern.fullmatch(k):
            return Family(name, k)
    return None


def _kind(name: str, keyword: str) -> str:
    if name == "phrase":
        return "password" if keyword.startswith("pass") else "secret"
    if name == "identity":
        return _identity_kind(keyword)
    return {
        "password": "password",
        "pin": "pin",
        "apikey": "api_key",
        "secret": "secret",
        "token": "token",
        "connection": "connection_string",
        "key": "secret",
        "card": "card_number",
        "account": "bank_account",
    }[name]


def _identity_kind(keyword: str) -> str:
    for prefix, kind in (
        ("social security", "ssn"),
        ("ssn", "ssn"),
        ("social", "ssn"),
        ("bsn", "bsn"),
        ("burgerservice", "bsn"),
        ("sofi", "bsn"),
        ("citizen service", "bsn"),
        ("aadha", "aadhaar"),
        ("uidai", "aadhaar"),
        ("nino", "nino"),
        ("national insurance", "nino"),
        ("ni ", "nino"),
        ("passport", "passport"),
        ("driv", "drivers_license"),
        ("licen", "drivers_license"),
        ("tax", "tax_id"),
        ("tin", "tax_id"),
        ("itin", "tax_id"),
        ("ein", "tax_id"),
    ):
        if keyword.startswith(prefix):
            return kind
    return "national_id"


def public_code(modifier: str) -> bool:
    """'zip code', 'error code': a code that is not a secret."""
    return modifier in _PUBLIC_CODE


_QUANTITY = re.compile(r"\d+[.:/,]\d+(?:[.:/]\d+)*|\d{4}-\d{2}-\d{2}|\d{1,2}-\d{1,2}-\d{4}")


def _digits(value: str) -> str:
    return "".join(filter(str.isdigit, value))


def accepts(family: Family, value: str, *, bare: bool = False, fragment: bool = False) -> bool:
    """Whether `value` is a value of this family's keyword. `bare`: no connector ("password X");
    `fragment`: a part of the value ("the password starts with X")."""
    v = trim(value)
    if not v or is_placeholder(v):
        return False
    name, digits = family.name, _digits(v)
    if name in ("pin", "account") and _QUANTITY.fullmatch(v):
        return False  # "the code is 3.12", "account 2024-06-01": a version, a decimal, a date, a time
    if fragment:  # "the password starts with X": a piece of a secret is a secret
        if name == "card":
            return len(digits) >= 5  # the last four (or first six) digits of a card are not secret
        if name in ("pin", "account", "identity"):
            return len(digits) >= (1 if name == "pin" else 2)
        if name == "connection":
            return len(v) >= 2
        if v[0].isupper() or not v.isalpha():
            return True  # "K", "Or", "x7", "AKIAIOSF"
        return len(v) >= 2 and not is_description(v, morphology=False)
    if name in ("password", "phrase"):
        return strong(v, 6) if bare else word_value(v)
    if name == "pin":
        if family.keyword.startswith(("cvv", "cvc", "csc")):
            return 3 <= len(digits) <= 4 and len(digits) >= len(v) - 1
        if family.keyword in ("code", "codes", "pin", "pins"):  # an ambiguous word: digits only
            return 4 <= len(digits) <= 10 and len(digits) >= len(v) - 2
        return 3 <= len(digits) <= 12 and (len(digits) >= len(v) / 2)
    if name == "card":
        return checksums.card_ok(digits) and len(digits) >= len(v.replace(" ", "").replace("-", "")) - 1
    if name == "account":
        return len(digits) >= 6
    if name == "identity":
        return _identity_ok(family.kind, v, digits)
    if name == "key":
        return strong(v, 12)
    if name == "connection":  # user:password, a password, or a URL with user-info
        return strong(v, 8) and ("://" not in v or "@" in v)
    return strong(v, 8)  # secret, token, api key


def _identity_ok(kind: str, value: str, digits: str) -> bool:
    compact = "".join(c for c in value if c.isalnum())
    if kind == "ssn":
        return len(compact) == 9 and checksums.ssn_ok(digits)
    if kind == "bsn":
        return len(compact) in (8, 9) and checksums.bsn_ok(digits)
    if kind == "aadhaar":
        return len(compact) == 12 and checksums.aadhaar_ok(digits)
    if kind == "nino":
        return checksums.nino_ok(compact)
    return 5 <= len(compact) <= 20 and len(digits) >= 4
