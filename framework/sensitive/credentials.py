"""Credentials said in words: a keyword grammar over prose.

Four forms, each one RE2 pattern, each value judged in Python by its keyword's family (`keywords`):

- forward:  "password[ for the VPN] is X", "pw: X", "PIN 4821", "my password's 'a b c'", "Passwort ist X";
- changed:  "I changed my password to X", "set the admin PIN to X";
- reverse:  "X is my password", "uses X as the password for ...", "X - that's my PIN";
- pair:     "admin / X (username / password)".

Fragments ("the password starts with X") are in `fragments`. A reference whose value is not next to it
("that's my card number" after a card number) is returned unresolved; `detect` settles it against the
other findings of the same text, and `context` against earlier texts.
"""

from __future__ import annotations

from framework.sensitive.finding import GRAMMAR, REFERENCE, Hit
from framework.sensitive.grammar import (
    CONN,
    DET,
    FILLER,
    MID,
    VAL,
    clause_end,
    extend_groups,
    token_before,
    value_span,
)
from framework.sensitive.keywords import ANY, Family, accepts, family_of, public_code
from framework.sensitive.numbers import is_test_card
from framework.sensitive.scan import Doc, Match, compile_pattern, next_word, prev_word
from framework.sensitive.values import (
    FUNCTION_WORDS,
    KEYWORD_WORDS,
    STATE_WORDS,
    is_description,
    is_placeholder,
    leading_content,
)

# keyword, then: a qualifier ("for the VPN", "they gave me") and a connector, or a connector, or a space;
# then more "keyword connector" links ("card PIN is", "password is password is"): the last keyword names
# the value.
FORWARD = compile_pattern(
    rf"\b(?P<kw>{ANY})\b\.?(?:(?P<mid>{MID})(?:{CONN})|(?:{CONN})|(?P<bare>\s+))"
    rf"(?:(?P<kwc>{ANY})\b\.?(?:{CONN}|\s+))*{FILLER}{VAL}",
    lower=True,
)
CHANGED = compile_pattern(
    r"\b(?:set|sets|setting|change[ds]?|changing|reset|resets|resetting|update[ds]?|updating|rotate[ds]?|"
    rf"rotating|switch(?:ed|es)?|switching)\s+(?:{DET}\s+)?(?:[\w'’-]+\s+){{0,3}}?\b(?P<kw>{ANY})\b"
    rf"\s+(?:to|as|=|:)\s+{FILLER}{VAL}",
    lower=True,
)
# Words after "... is my password" that end the phrase; any other word makes "password" a modifier
# ("my password manager"), and a capital starts a new sentence.
_CONTINUE = (
    r"for|to|on|at|of|in|with|from|since|across|and|but|or|so|because|though|although|if|when|while|which|that|"
    r"now|too|also|again|everywhere|here|there|today|currently|still|as|btw|lol|right|yes|ok|okay|please|thanks|"
    r"is|was"
)
REVERSE = compile_pattern(
    r"(?i)\s*(?:[,;:.!?]|--|-|–|—)?\s*(?:\b(?P<pron>that|this|it|which)\s*(?:'s|’s|\s+is|\s+was|\s+will\s+be|"
    r"\s+has\s+been|\s+used\s+to\s+be)|\s+(?:is|was|will\s+be|has\s+been|are|were)|\s+(?P<as>as))\s+"
    rf"{DET}\s+(?P<mods>(?:[\w'’-]+\s+){{0,3}})\b(?P<kw>{ANY})\b"
    rf"(?:\s*(?:[.,;:!?)\]]|$)|\s+(?:{_CONTINUE})\b|\s+(?-i:[A-Z]))"
)
# "admin / Lantern_77 (username / password)", "root:Toor!987 (user:pass)": a pair, labelled after it.
PAIR = compile_pattern(
    r"(?P<user>[^\s/:]+)\s*[/:]\s*(?P<val>[^\s/:()]+)\s*\(\s*(?:user(?:name)?|login|id)\s*[/:]\s*"
    r"(?:password|pass|pwd|pw)\s*\)",
    lower=True,
)
_PREPOSITIONS = frozenset("in on at of for with to from by and".split())
_DETERMINERS = frozenset(
    "a an the my your his her our their its this that these those same whose any no".split()
)
_CLAUSE_START = frozenset("and but so oh btw ok okay well yes also then hey hi yeah plus now just".split())
# Words that are never a value, as bytes of the lower-cased text: the common case, rejected at once.
_NOT_A_VALUE = frozenset(w.encode() for w in FUNCTION_WORDS | STATE_WORDS | KEYWORD_WORDS)
_STATE_BYTES = frozenset(w.encode() for w in STATE_WORDS)
_KEYWORD_NOUNS = frozenset("password passwords passphrase passcode pin token key secret code".split())


def scan(doc: Doc) -> list[Hit]:
    hits: list[Hit] = []
    for pattern in (FORWARD, CHANGED):
        for m in doc.finditer(pattern):
            hits.extend(_forward(doc, m))
    for m in doc.finditer(REVERSE):
        hits.extend(_reverse(doc, m))
    for m in doc.finditer(PAIR):
        start, end = m.span("val")
        value = doc.str(start, end)
        if not is_placeholder(value):
            hits.append(Hit("password", start, end, value, GRAMMAR, ev_start=m.start()))
    return hits


def _forward(doc: Doc, m: Match) -> list[Hit]:
    kw = "kwc" if m.has("kwc") else "kw"  # the last keyword of a chain names the value ("card PIN is X")
    start, end, quoted = value_span(doc, m)
    bare_word = m.has("bare") and not m.has("kwc") and not quoted
    if bare_word and end - start < 3:
        return []  # "pw 1": no family takes a value this short without a connector
    family = family_of(doc.str(*m.span(kw)))
    word = doc.data[start:end]
    if bare_word and family is not None and family.name != "phrase" and word.isalpha() and word.islower():
        return []  # "password policy", "token limit": a compound noun
    if family is None or (quoted and doc.data[start - 1 : start] == b"`"):
        return []  # a value in backticks is code: "the routing key `model_name_{team_id}`"
    if not quoted and doc.lower[start:end] in _NOT_A_VALUE:  # "the password is wrong": the common case
        return [] if m.has("bare") else _after_description(doc, m, family, start, end)
    if family.name in ("identity", "account", "card"):
        end = extend_groups(doc, end)
    value = doc.str(start, end)
    if not quoted and not _about_a_value(doc, m, kw, family, start, end, value):
        return []
    # no connector, or only a dash ("pw - X"): the value must carry the evidence itself
    dash = doc.lower[m.end(kw) : start].strip(b" \t") in (b"-", "–".encode())
    bare = (m.has("bare") and not m.has("kwc")) or dash
    if bare and not quoted and value.isalpha() and value.islower() and family.name != "phrase":
        return []  # "password manager", "token limit": a compound noun
    if not quoted and (family.name == "phrase" or (family.name == "password" and is_description(value))):
        phrase = _phrase(doc, m, family, start, 4 if bare else 3)
        if phrase:  # "my passphrase is lantern orbit velvet cactus"
            return phrase
    words = family.name in ("password", "phrase") and quoted and (" " in value or not is_description(value))
    ok = (words and not is_placeholder(value)) or accepts(family, value, bare=bare)
    if not ok and not bare and family.name in ("password", "pin") and is_description(value):
        return _after_colon(doc, family, m.start(), end)
    if not ok or _public_card(doc, family, start, end, value):
        return []
    return [Hit(family.kind, start, end, value, GRAMMAR, ev_start=m.start())]


def _after_description(doc: Doc, m: Match, family: Family, start: int, end: int) -> list[Hit]:
    """After "password is" comes a word that is not a value: a multi-word value that starts with a
    state word ("correct horse battery staple"), or a value after a colon, or nothing."""
    if family.name not in ("password", "phrase", "pin"):
        return []
    if family.name != "pin" and doc.lower[start:end] in _STATE_BYTES:
        phrase = _phrase(doc, m, family, start, 3)
        if phrase:
            return phrase
    return _after_colon(doc, family, m.start(), end)


def _phrase(doc: Doc, m: Match, family: Family, start: int, words: int) -> list[Hit]:
    """A value of several words, up to the first function word of the clause."""
    phrase = leading_content(doc.str(start, clause_end(doc, start, 120)), words)
    if not phrase:
        return []
    return [Hit(family.kind, start, start + len(phrase.encode()), phrase, GRAMMAR, ev_start=m.start())]


def _about_a_value(doc: Doc, m: Match, kw: str, family: Family, start: int, end: int, value: str) -> bool:
    """Whether the keyword introduces a value at all: not "the zip code is 94103", not a sentence that
    ended with the keyword ("... username,password.  :rtype:"), not a documentation field
    ("password :param"), not a value that describes a keyword ("password: database password")."""
    if (
        family.name == "pin"
        and family.keyword.startswith("code")
        and public_code(prev_word(doc, m.start(kw)))
    ):
        return False
    kw_end = m.end(kw)
    ended = doc.data[kw_end : kw_end + 1] == b"." and doc.data[kw_end + 1 : kw_end + 2].isspace()
    if ended and not family.keyword.endswith("no"):  # "no." abbreviates "number"
        return False
    after_colon = doc.data[start - 1 : start] == b":" and doc.data[start - 2 : start - 1].isspace()
    return not (after_colon and value.isalpha()) and not _describes_keyword(doc, end)


def _describes_keyword(doc: Doc, end: int) -> bool:
    """Whether the word after the value is a credential word: the value is then its modifier."""
    word, _ = next_word(doc, end)
    return word.strip(".,;:!?") in _KEYWORD_NOUNS


def _after_colon(doc: Doc, family: Family, ev_start: int, pos: int) -> list[Hit]:
    """'the password is my cat's name plus 2019: Whiskers2019': after a description ("my cat's name"),
    the value follows a colon in the same clause."""
    if doc.data.find(b":", pos, pos + 80) < 0 or prev_word(doc, pos) not in _DETERMINERS:
        return []  # the value read so far is a determiner: "my" (cat's name), "the" (usual one)
    end = clause_end(doc, pos, 80)
    colon = doc.data.find(b":", pos, end)
    if colon < 0:
        return []
    start = colon + 1
    while start < len(doc.data) and doc.data[start : start + 1] == b" ":
        start += 1
    stop = start
    while stop < len(doc.data) and stop - start < 64 and not doc.data[stop : stop + 1].isspace():
        stop += 1
    while stop > start and doc.data[stop - 1 : stop] in (b".", b",", b";"):
        stop -= 1
    value = doc.str(start, stop)
    if not accepts(family, value):
        return []
    return [Hit(family.kind, start, stop, value, GRAMMAR, ev_start=ev_start)]


def _public_card(doc: Doc, family: Family, start: int, end: int, value: str) -> bool:
    return family.name == "card" and is_test_card(doc, start, end, "".join(c for c in value if c.isdigit()))


def _reverse(doc: Doc, m: Match) -> list[Hit]:
    start, end, quoted = token_before(doc, m.start())
    if not quoted and not m.has("pron") and doc.lower[start:end] in _NOT_A_VALUE:
        return []  # "... is my password is my password": fast
    family = _longest_family(doc.str(*m.span("mods")).split(), doc.str(*m.span("kw")))
    if family is None:
        return []
    kw_end = m.end("kw")
    value = doc.str(start, end)
    before = prev_word(doc, start)
    if _reverse_ok(family, value, before, quoted, m.has("as")) and not _public_card(
        doc, family, start, end, value
    ):
        return [Hit(family.kind, start, end, value, GRAMMAR, ev_end=kw_end)]
    if family.name in ("password", "phrase") and not quoted and not m.has("as"):
        phrase_start = _subject_phrase(doc, end, 24 if family.name == "phrase" else 8)
        if phrase_start is not None:  # "correct horse battery staple is my wifi password"
            return [Hit(family.kind, phrase_start, end, doc.str(phrase_start, end), GRAMMAR, ev_end=kw_end)]
    if m.has("pron"):  # "that's my card number": resolved against a finding just before it
        return [Hit(family.kind, m.start("pron"), kw_end, "", REFERENCE, needs="referent")]
    return []


def _subject_phrase(doc: Doc, end: int, most: int) -> int | None:
    """Where the clause ending at `end` starts, if it is a phrase of at most `most` content words that
    could be a passphrase ("correct horse battery staple", "rainy day in june"); None for a sentence
    ("I think it")."""
    data, start = doc.data, end
    while start > 0 and end - start < 240 and data[start - 1 : start] not in (b".", b"!", b"?", b";", b"\n"):
        start -= 1
    while start < end and data[start : start + 1].isspace():
        start += 1
    words = doc.str(start, end).split()
    if not 2 <= len(words) <= most or words[0].lower() in FUNCTION_WORDS:
        return None
    if any(w.lower() in FUNCTION_WORDS and w.lower() not in _PREPOSITIONS for w in words):
        return None
    return start


def _longest_family(modifiers: list[str], keyword: str) -> Family | None:
    """'my wifi key' is a wifi key (a password), not a key: the longest keyword ending with the match."""
    for n in range(len(modifiers), 0, -1):
        family = family_of(" ".join([*modifiers[-n:], keyword]))
        if family is not None:
            return family
    return family_of(keyword)


def _reverse_ok(family: Family, value: str, before: str, quoted: bool, as_form: bool) -> bool:
    if not value or is_placeholder(value):
        return False
    if before in _DETERMINERS:
        return False  # "uses his birthday as his password": a noun phrase, not a value
    if family.name not in ("password", "phrase"):
        return accepts(family, value)
    if quoted:
        return not is_description(value) or " " in value
    if is_description(value):
        return False
    plain_word = value.isalpha() and value.islower()
    return not plain_word or as_form or before == "" or before in _CLAUSE_START
