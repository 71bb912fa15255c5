"""Credentials in structured text: assignments, URLs with user-info, Authorization headers.

- `DB_PASSWORD=...`, `"password": "..."`, `Password=...;` (ADO/JDBC strings), `AccountKey=...`, `sig=...`
  (SAS URLs), `?password=...&`: an identifier that ends with a credential word, then `=` or `:`;
- `scheme://user:password@host`, any scheme (postgres, mongodb+srv, redis, amqp, https, ldap, ...), and
  `curl -u user:password`;
- `Authorization: Bearer <token>` and `Basic <base64 of user:password>`.
"""

from __future__ import annotations

import base64
import binascii

from framework.sensitive.finding import STRUCTURE, Hit
from framework.sensitive.keywords import Family, accepts
from framework.sensitive.scan import Doc, Match, compile_pattern, next_word
from framework.sensitive.values import KEYWORD_WORDS, is_placeholder, strong, trim

ASSIGNMENT = compile_pattern(
    r"(?:^|[^a-z0-9_.-])[\"']?(?P<ident>[a-z0-9_.-]{0,40}?(?P<akw>password|passwd|passwort|pwd|pass|"
    r"secret|token|api[_-]?key|apikey|access[_-]?key|accountkey|sharedaccesskey|private[_-]?key|"
    r"client[_-]?secret|secret[_-]?key|auth[_-]?token|authtoken|credentials?|sig|signature)"
    r"(?:[_.-]?(?:value|b64|base64|str|string|plain|plaintext|raw|hash|enc|encrypted|id))?\d{0,2})[\"']?"
    r"(?:\s*(?::=|=>|=)|:)\s*(?P<val>'[^'\n]{0,80}'|\"[^\"\n]{0,80}\"|[^\s;&,'\"<>)\]}]+)",
    lower=True,
)
URL_USERINFO = compile_pattern(
    r"\b[a-z][a-z0-9+.-]{1,30}://(?P<user>[^\s/@:]*):(?P<pw>[^\s/]+)@[a-z0-9\[_]", lower=True
)
# curl -u user:password, --user user:password
CLI_USER = compile_pattern(r"(?:^|\s)(?:-u|--user)[ =](?P<user>[^\s:/]+):(?P<pw>[^\s@]+)(?:\s|$)", lower=True)
AUTHORIZATION = compile_pattern(r"\b(?P<scheme>bearer|basic)\s+(?P<cred>[a-z0-9_~+/.=-]{12,})", lower=True)

_PASSWORD = Family("password", "password")
_DOC_FIELDS = (b":param ", b"@param ", b":arg ", b":type ", b":ivar ")
_KEYWORD_NOUNS = frozenset("password passwords passphrase passcode pin token key secret".split())


def _assignment_kind(word: str) -> str:
    w = word.lower().replace("_", "").replace("-", "")
    if w in ("password", "passwd", "passwort", "pwd", "pass", "credential", "credentials"):
        return "password"
    if w in ("accountkey", "sharedaccesskey"):
        return "azure_key"
    if w in ("sig", "signature"):
        return "signature"
    if w in ("token", "authtoken"):
        return "token"
    if w == "privatekey":
        return "private_key"
    if w in ("apikey", "accesskey"):
        return "api_key"
    return "secret"


def scan(doc: Doc) -> list[Hit]:
    hits: list[Hit] = []
    for m in doc.finditer(ASSIGNMENT):
        hits.extend(_assignment(doc, m))
    for m in doc.finditer(URL_USERINFO):
        pw = doc.str(*m.span("pw"))
        if (
            len(pw) > 256
            or is_placeholder(pw)
            or pw.lower() in KEYWORD_WORDS
            or pw.lower() in ("pass", "pwd", "secret")
        ):
            continue
        hits.append(Hit("connection_string", m.start("user"), m.end("pw"), pw, STRUCTURE, ev_start=m.start()))
    for m in doc.finditer(CLI_USER):
        pw = doc.str(*m.span("pw"))
        if not is_placeholder(pw) and pw.lower() not in KEYWORD_WORDS:
            hits.append(Hit("password", m.start("pw"), m.end("pw"), pw, STRUCTURE, ev_start=m.start("user")))
    for m in doc.finditer(AUTHORIZATION):
        cred = doc.str(*m.span("cred")).rstrip(".")
        if (m.group("scheme") or b"").lower() == b"basic":
            ok, kind = _basic(cred), "password"
        else:
            ok, kind = strong(cred, 16) and not is_placeholder(cred), "token"
        if ok:
            start = m.start("cred")
            hits.append(Hit(kind, start, start + len(cred), cred, STRUCTURE, ev_start=m.start()))
    return hits


def _assignment(doc: Doc, m: Match) -> list[Hit]:
    (kw_start, kw_end), ident = m.span("akw"), m.start("ident")
    glued = doc.lower[kw_start:kw_end] == b"pass" and ident < kw_start
    if glued and doc.data[kw_start - 1 : kw_start] not in (b"_", b"-", b"."):
        return []  # "bypass: ...", "compass=north": not a password
    if doc.lower[max(0, ident - 8) : ident].endswith(_DOC_FIELDS):
        return []  # ":param password: the password to use": documentation
    start, end = m.span("val")
    raw = doc.str(start, end)
    quoted = raw[:1] in "'\"" and len(raw) >= 2
    if quoted:
        start, end = start + 1, end - 1
    value = doc.str(start, end)
    if not quoted:
        value = trim(value[:200])
        end = start + len(value.encode())
    kind = _assignment_kind(doc.str(*m.span("akw")))
    if kind == "password":
        ok = (quoted and bool(value) and not is_placeholder(value)) or accepts(_PASSWORD, value)
        word, _ = next_word(doc, end)
        # ":param password: database password": the value describes the keyword
        ok = ok and (quoted or word.strip(".,;:") not in _KEYWORD_NOUNS)
    else:
        ok = not is_placeholder(value) and (strong(value, 8) or (len(value) >= 16 and value.isalnum()))
    if not ok:
        return []
    ev_start = m.start("ident")
    return [Hit(kind, start, end, value, STRUCTURE, ev_start=ev_start)]


def _basic(cred: str) -> bool:
    """`Basic <base64>` that decodes to printable user:password."""
    try:
        decoded = base64.b64decode(cred + "=" * (-len(cred) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return ":" in decoded and decoded.isprintable() and len(decoded.split(":", 1)[1]) >= 3
