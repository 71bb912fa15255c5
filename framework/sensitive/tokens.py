"""Provider tokens and keys found by their shape: a provider's prefix and alphabet, sometimes a check.

One RE2 alternation holds every shape (AWS, GCP, Azure, GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic,
Hugging Face, npm, PyPI, SendGrid, Twilio, Discord, Telegram, Mailgun, JWTs); a few shapes are confirmed
in Python (a JWT's header decodes to JSON naming an algorithm; a Discord token's first part decodes to a
numeric user id; an `sk-` key is random-looking). Private-key blocks are found by their BEGIN line and
run to their END line, or to the end of the text when it was cut off.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable

from framework.sensitive.finding import SHAPE, Hit
from framework.sensitive.scan import Doc, compile_pattern
from framework.sensitive.values import classes, is_placeholder


def _jwt_ok(token: str) -> bool:
    head = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return isinstance(decoded, dict) and ("alg" in decoded or "typ" in decoded)


def _discord_ok(token: str) -> bool:
    first, middle, last = token.split(".")
    if not (23 <= len(first) <= 28 and len(middle) == 6 and 27 <= len(last) <= 40):
        return False
    try:
        return base64.b64decode(first + "=" * (-len(first) % 4), altchars=b"-_").decode().isdigit()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False


def _sendgrid_ok(token: str) -> bool:
    _sg, first, second = token.split(".")
    return len(first) in range(16, 33) and len(second) in range(30, 51)


def _telegram_ok(token: str) -> bool:
    return len(token.split(":", 1)[1]) == 35


def _random_ok(token: str) -> bool:
    body = token.split("-")[-1] if token.count("-") < 3 else token.replace("-", "")
    return classes(body) >= 2 and any(c.isdigit() for c in token) and not is_placeholder(token)


# (kind, pattern with the token in group "v", its length range, check). Runs are unbounded (`+`) and the
# length is checked here: a counted repetition costs one automaton state per count, in every alternative.
_A = "[0-9A-Za-z]"
_B = "[0-9A-Za-z_-]"
_SHAPES: list[tuple[str, str, tuple[int, int], Callable[[str], bool] | None]] = [
    (
        "aws_key",
        r"\b(?P<v>(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]+)\b",
        (20, 20),
        None,
    ),
    (
        "aws_key",
        r"(?:aws|AWS|Aws)[A-Za-z_ .-]{0,25}?(?:secret|SECRET|Secret)[A-Za-z_ .-]{0,25}?"
        r"(?:\s*[:=]\s*|\s+(?:is\s+|:\s*)?)[\"']?(?P<v>[A-Za-z0-9/+]+)",
        (40, 40),
        None,
    ),
    ("gcp_key", r"(?P<v>\"type\"\s*:\s*\"service_account\")", (1, 80), None),
    ("gcp_key", r"\"private_key_id\"\s*:\s*\"(?P<v>[0-9a-f]+)\"", (40, 40), None),
    ("api_key", rf"\b(?P<v>AIza{_B}+)", (39, 39), None),
    ("secret", rf"\b(?P<v>GOCSPX-{_B}+)", (35, 35), None),
    ("token", rf"\b(?P<v>ya29\.{_B}+)", (25, 2048), None),
    ("azure_key", r"\b(?P<v>[0-9A-Za-z_~.-]{3}\dQ~[0-9A-Za-z_~.-]+)", (37, 40), None),
    ("api_key", rf"\b(?P<v>gh[pousr]_{_A}+)\b", (34, 255), None),
    ("api_key", r"\b(?P<v>github_pat_[0-9A-Za-z_]+)\b", (51, 255), None),
    ("api_key", rf"\b(?P<v>gl(?:pat|dt|rt|ptt|ft|imt|oas|cbt|soat|agent)-{_B}+)", (25, 255), None),
    ("api_key", r"\b(?P<v>xox[abposre]-[0-9A-Za-z-]+)", (15, 255), None),
    ("api_key", r"\b(?P<v>xapp-\d-[0-9A-Za-z-]+)", (17, 255), None),
    (
        "api_key",
        r"(?P<v>https://hooks\.slack\.com/(?:services|workflows|triggers)/[0-9A-Za-z_/-]+)",
        (53, 255),
        None,
    ),
    ("api_key", rf"\b(?P<v>(?:sk|rk)_(?:live|test)_{_A}+)\b", (24, 255), _random_ok),
    ("api_key", r"\b(?P<v>whsec_[0-9A-Za-z+/=]+)", (30, 128), None),
    (
        "api_key",
        rf"\b(?P<v>sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin|sid)\d\d-)?{_B}+)",
        (23, 300),
        _random_ok,
    ),
    ("api_key", rf"\b(?P<v>hf_{_A}+)\b", (33, 43), None),
    ("api_key", rf"\b(?P<v>api_org_{_A}+)\b", (38, 48), None),
    ("api_key", rf"\b(?P<v>npm_{_A}+)\b", (40, 40), None),
    ("api_key", rf"\b(?P<v>pypi-Ag{_B}+)", (57, 300), None),
    ("api_key", rf"\b(?P<v>SG\.{_B}+\.{_B}+)", (50, 90), _sendgrid_ok),
    ("api_key", r"\b(?P<v>(?:AC|SK)[0-9a-f]+)\b", (34, 34), None),
    ("api_key", rf"\b(?P<v>[MNO]{_B}+\.{_B}+\.{_B}+)", (59, 90), _discord_ok),
    (
        "api_key",
        rf"(?P<v>https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/{_B}+)",
        (70, 200),
        None,
    ),
    ("api_key", rf"\b(?P<v>\d{{8,10}}:{_B}+)", (44, 46), _telegram_ok),
    ("api_key", r"\b(?P<v>key-[0-9a-z]+)\b", (36, 36), None),
    ("jwt", rf"\b(?P<v>eyJ{_B}+\.eyJ{_B}+\.{_B}*)", (30, 8192), _jwt_ok),
]
TOKENS = compile_pattern(
    "|".join(
        f"(?P<t{i}>{pattern.replace('(?P<v>', f'(?P<v{i}>')})"
        for i, (_k, pattern, _n, _c) in enumerate(_SHAPES)
    ),
    tuple(f"t{i}" for i in range(len(_SHAPES))),
)
PEM_BEGIN = compile_pattern(r"-----BEGIN (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?-----")


def scan(doc: Doc) -> list[Hit]:
    hits: list[Hit] = []
    for m in doc.finditer(TOKENS):
        alternative = m.alternative
        if alternative is None:
            continue
        i = int(alternative[1:])
        kind, _pattern, (shortest, longest), check = _SHAPES[i]
        start, end = m.span(f"v{i}")
        if not shortest <= end - start <= longest:
            continue
        token = doc.str(start, end)
        if (check is None or check(token)) and not is_placeholder(token):
            hits.append(Hit(kind, start, end, token, SHAPE))
    hits.extend(_private_keys(doc))
    return hits


def _private_keys(doc: Doc) -> list[Hit]:
    """BEGIN ... END blocks, each found once: the search for END resumes after the previous block."""
    hits: list[Hit] = []
    data, covered = doc.data, 0
    for m in doc.finditer(PEM_BEGIN):
        start = m.start()
        if start < covered:
            continue
        end_marker = data.find(b"-----END ", m.end())
        if end_marker < 0:
            end = len(data)
        else:
            close = data.find(b"-----", end_marker + 9)
            end = len(data) if close < 0 else close + 5
        hits.append(Hit("private_key", start, end, doc.str(start, end), SHAPE))
        covered = end
    return hits
