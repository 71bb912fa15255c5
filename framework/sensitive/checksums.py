"""Checksums and validity rules that separate real identifiers from numbers that merely look like them.

A random 16-digit number passes Luhn one time in ten; with an issuer prefix and a card grouping it is
rare. An IBAN passes mod-97 one time in 97, and only with its country's length. These rules let the
detector flag a bare number without a keyword next to it.
"""

from __future__ import annotations


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum (cards, IMEIs, Canadian SINs)."""
    if not digits.isdigit():
        return False
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Issuer prefixes and lengths (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro).
_CARD_RANGES: list[tuple[int, int, tuple[int, ...]]] = [
    (4, 4, (13, 16, 19)),
    (51, 55, (16,)),
    (2221, 2720, (16,)),
    (34, 34, (15,)),
    (37, 37, (15,)),
    (6011, 6011, (16, 17, 18, 19)),
    (644, 649, (16, 17, 18, 19)),
    (65, 65, (16, 17, 18, 19)),
    (300, 305, (14, 15, 16, 17, 18, 19)),
    (36, 36, (14, 15, 16, 17, 18, 19)),
    (38, 39, (14, 15, 16, 17, 18, 19)),
    (3528, 3589, (16, 17, 18, 19)),
    (62, 62, (16, 17, 18, 19)),
    (50, 50, (12, 13, 14, 15, 16, 17, 18, 19)),
    (56, 69, (12, 13, 14, 15, 16, 17, 18, 19)),
]


def card_ok(digits: str) -> bool:
    """A plausible payment card: a known issuer prefix, that issuer's length, and the Luhn checksum."""
    n = len(digits)
    if not 12 <= n <= 19 or not digits.isdigit():
        return False
    for low, high, lengths in _CARD_RANGES:
        width = len(str(low))
        if n in lengths and low <= int(digits[:width]) <= high:
            return luhn_ok(digits)
    return False


# IBAN lengths by country (the ISO 13616 registry; a country absent here is not accepted).
IBAN_LENGTHS = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SC": 31,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
}


def iban_ok(compact: str) -> bool:
    """An IBAN without spaces, in any case: known country, that country's length, mod-97 == 1."""
    s = compact.upper()
    if IBAN_LENGTHS.get(s[:2]) != len(s) or not s[2:4].isdigit() or not s.isalnum():
        return False
    rearranged = s[4:] + s[:4]
    remainder = 0
    for c in rearranged:  # piecewise mod-97: no big integer of 60 digits needed
        remainder = (remainder * (100 if c.isalpha() else 10) + int(c, 36)) % 97
    return remainder == 1


def ssn_ok(digits: str) -> bool:
    """A US social security number the SSA could have issued: area not 000, 666 or 900-999 (those
    are ITINs), group not 00, serial not 0000."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = int(digits[:3]), digits[3:5], digits[5:]
    return area not in (0, 666) and area < 900 and group != "00" and serial != "0000"


_NINO_BAD_FIRST = set("DFIQUV")
_NINO_BAD_SECOND = set("DFIOQUV")
_NINO_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def nino_ok(compact: str) -> bool:
    """A UK National Insurance number: two letters (HMRC's allowed ones), six digits, A-D."""
    s = compact.upper()
    if len(s) != 9 or not (s[:2].isalpha() and s[2:8].isdigit() and s[8] in "ABCD"):
        return False
    return s[0] not in _NINO_BAD_FIRST and s[1] not in _NINO_BAD_SECOND and s[:2] not in _NINO_BAD_PREFIX


def bsn_ok(digits: str) -> bool:
    """A Dutch citizen service number (BSN): 9 digits passing the "11-test"."""
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum((9 - i) * int(d) for i, d in enumerate(digits[:8])) - int(digits[8])
    return total % 11 == 0


_VD = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VP = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_ok(digits: str) -> bool:
    """The Verhoeff checksum (catches every single-digit error and adjacent transposition)."""
    if not digits.isdigit():
        return False
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VD[c][_VP[i % 8][int(ch)]]
    return c == 0


def aadhaar_ok(digits: str) -> bool:
    """An Indian Aadhaar number: 12 digits, not starting with 0 or 1, Verhoeff-valid."""
    return len(digits) == 12 and digits[0] not in "01" and verhoeff_ok(digits)
