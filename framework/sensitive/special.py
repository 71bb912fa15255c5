"""Special-category data (GDPR art. 9), found by what is said about a person.

A vocabulary term alone is a topic ("a book about diabetes"); it becomes personal data in a predicate
about someone: "diagnosed with X", "I have X" (subject: a person), "takes X", "I'm X" (copula),
"my X", "votes X", "member of X", "of X descent". One RE2 alternation with a group per form finds the
candidates (`special_forms`, over the vocabularies of `special_terms`); a few checks here decide: a
person as the subject, the end of the phrase after an ambiguous word, no compound ("white-water").
"""

from __future__ import annotations

import re

from framework.sensitive.finding import GRAMMAR, REFERENCE, Hit
from framework.sensitive.grammar import token_before
from framework.sensitive.scan import Doc, Match, next_word, prev_word
from framework.sensitive.special_forms import KIND, REFERENCE_KINDS, SPECIAL, SPECIAL_REFERENCES, TERMS
from framework.sensitive.special_terms import (
    AMBIGUOUS_ORIENTATION,
    AMBIGUOUS_POLITICAL,
    CAPITALISED_UNIONS,
    NOT_TRADE_UNIONS,
    PARTIES,
    UNIONS,
    UPPERCASE_ONLY,
)
from framework.sensitive.values import FUNCTION_WORDS

_PARTY = re.compile(f"(?:{PARTIES})")
_TERM_IN = {kind: re.compile(rf"\b(?:{term.pattern})\b", term.flags) for kind, term in TERMS.items()}
_UNION_NAME = re.compile(f"(?:{UNIONS})")
_COPULA_FORMS = frozenset({"h_is", "o_is", "o_rel", "r_is", "p_is"})
_SUBJECT_INCLUDED = tuple(
    w.encode() for w in ("i am", "i'm", "i’m", "im ", "he's", "she's", "they're", "we're")
)
_PERSONS = frozenset(
    """i he she they we you user partner wife husband mother father mom mum dad son daughter brother sister
    friend boyfriend girlfriend parent parents family grandmother grandfather grandma grandpa child kid kids
    baby aunt uncle cousin colleague boss nephew niece who also still""".split()
)
_TOPIC_NOUNS = frozenset(
    """research awareness charity foundation fundraiser study studies project paper article book course class
    podcast documentary conference campaign walk run ride team group unit ward clinic department vaccine
    trial trials resources features app""".split()
)
_END_OK = frozenset("and but or so because though now too also again since".split())
_TIME_WORDS = frozenset(
    """last in on at since when after before ago recently yesterday today this that two three four five six
    years year months month weeks week and but which who so""".split()
)


def scan(doc: Doc) -> list[Hit]:
    hits: list[Hit] = []
    for pattern in (SPECIAL, SPECIAL_REFERENCES):
        for m in doc.finditer(pattern):
            hit = _judge(doc, m)
            if hit is not None:
                hits.append(hit)
    return hits


def _value_group(m: Match, form: str) -> str | None:
    for suffix in ("_v", "_w", "_x", "_y"):
        name = form + suffix
        if m.has(name):
            return name
    return None


def _judge(doc: Doc, m: Match) -> Hit | None:
    form = m.alternative
    if form is None:
        return None
    start, end = m.span()
    if form in ("k_ref", "k_rev"):  # "HIV - that's my diagnosis", "HIV is the user's diagnosis"
        kind = _reference_kind(doc.str(*m.span(form + "_k")).lower())
        hit = _reference(doc, kind, start, end)
        return hit if form == "k_ref" or not hit.needs else None
    kind = _reference_kind(doc.str(*m.span("k_own_k")).lower()) if form == "k_own" else KIND[form[0]]
    group = _value_group(m, form)
    v_start, v_end = m.span(group) if group else (start, end)
    value = doc.str(v_start, v_end)
    word, _ = next_word(doc, v_end)
    if doc.data[v_end : v_end + 1] == b"-" and form not in ("b_val",):
        return None  # a compound: "white-water", "depression-era", "gay-friendly"
    if form in ("h_diag", "k_own"):
        value, v_end = _trim_phrase(doc, kind, v_start, v_end)
    if not _context_ok(doc, form, m, value, word):
        return None
    if form not in ("h_diag", "k_own"):
        v_end = max(v_end, end)
    return Hit(kind, start, v_end, value.strip(), GRAMMAR)


def _reference_kind(noun: str) -> str:
    for kind, pattern in REFERENCE_KINDS:
        if pattern.fullmatch(noun):
            return kind
    return "health"


def _reference(doc: Doc, kind: str, start: int, end: int) -> Hit:
    """ "HIV - that's my diagnosis": the term said just before is the value, if it is a term of that
    kind (from its vocabulary, a capitalised name, or an identifier with digits); otherwise the
    reference waits for a finding that ends right before it."""
    pos = start
    while pos > 0 and doc.data[pos - 1 : pos] in (b" ", b",", b"-", b".", b";", b":", b"\n"):
        pos -= 1
    t_start, t_end, _quoted = token_before(doc, pos)
    words = doc.str(max(0, t_start - 60), t_end).split()
    tail = [" ".join(words[-n:]) for n in (1, 2, 3) if len(words) >= n]  # the last word, two, three
    last = tail[0] if tail else ""
    named = len(last) >= 3 and last.lower() not in FUNCTION_WORDS and (last[0].isupper() or _has_digit(last))
    best = (
        next((t for t in reversed(tail) if TERMS[kind].fullmatch(t)), None)  # "type 2 diabetes"
        or next((t for t in tail if _TERM_IN[kind].search(t)), None)  # "gay couple"
        or (last if named else None)  # "Mass", "FPT-77A1-0C9E-44D2"
    )
    if best is None:
        return Hit(kind, start, end, "", REFERENCE, needs="referent")
    return Hit(kind, t_end - len(best.encode()), t_end, best, GRAMMAR, ev_end=end)


def _has_digit(word: str) -> bool:
    return any(c.isdigit() for c in word)


def _trim_phrase(doc: Doc, kind: str, start: int, end: int) -> tuple[str, int]:
    """'diagnosed with HIV last year' -> 'HIV', 'my ethnicity is Han Chinese git ...' -> 'Han Chinese': a
    term of the kind's vocabulary if one starts the phrase, else its words up to a time or function word
    (capitalised words only after the first, for a name: 'Lynch syndrome', 'Islam')."""
    text = doc.str(start, end)
    term = TERMS[kind].match(text)
    if term and (term.end() == len(text) or not text[term.end()].isalnum()):
        value = term.group()
    else:
        words: list[str] = []
        for i, w in enumerate(text.split(" ")):
            low = w.lower()
            if i and (
                low in _TIME_WORDS or low in FUNCTION_WORDS or not (w[:1].isupper() or w[:1].isdigit())
            ):
                break
            words.append(w)
        value = " ".join(words)
    return value, start + len(value.encode())


def _context_ok(doc: Doc, form: str, m: Match, value: str, after: str) -> bool:
    lowered = value.lower()
    if lowered in UPPERCASE_ONLY and not value.isupper():
        return False
    if form in _COPULA_FORMS and not _person_subject(doc, m.start()):
        return False  # "logging is disabled", "the estimate is conservative"
    said = doc.lower[m.start() : m.start() + 8]
    if form == "g_carry" and said.startswith((b"ha", b"positive")) and not _person_subject(doc, m.start()):
        return False  # "the UUID will have its variant"
    generic_union = form.startswith("u_") and not _UNION_NAME.fullmatch(lowered)
    said_by_a_person = _person_near(doc, m.start()) or doc.lower.startswith(_SUBJECT_INCLUDED, m.start())
    if generic_union and not said_by_a_person:
        return False  # "which member of a union a value belongs to": a type, not a trade union
    has_form = form == "h_cond" and m.has("h_cond_has")
    if has_form and prev_word(doc, m.start()) not in _PERSONS and not _name_before(doc, m.start()):
        return False  # "the portal has diabetes resources", "my cat has diabetes"
    if form == "h_cond" and after in _TOPIC_NOUNS:
        return False  # "my cancer research", "has diabetes resources"
    if has_form and lowered == "anxiety" and after in ("about", "over", "around", "before"):
        return False
    if form == "h_rec" and prev_word(doc, m.start()) not in {
        "i'm",
        "im",
        "am",
        "is",
        "are",
        "was",
        "been",
        "i’m",
    }:
        return False
    if form == "h_med" and lowered == "prep" and value != "PrEP":
        return False
    if form == "o_is" and lowered in AMBIGUOUS_ORIENTATION and after and after not in _END_OK:
        return False  # "I'm straight out of ideas"
    if form == "p_is" and lowered in AMBIGUOUS_POLITICAL and after and after not in _END_OK:
        return False  # "I'm liberal with comments"
    if form == "r_is" and prev_word(doc, m.start()) == "name":
        return False  # "my name is Christian"
    if (
        form == "r_go"
        and after
        and after
        not in _END_OK
        | {
            "every",
            "each",
            "on",
            "weekly",
            "regularly",
            "twice",
            "with",
            "at",
            "in",
            "most",
            "daily",
            "sometimes",
        }
    ):
        return False  # "went to the church wedding"
    if form == "e_is" and lowered in ("black", "white", "asian") and after and after not in _END_OK:
        return False
    if form.startswith("u_"):
        head = lowered.split()[0] if lowered else ""
        if head in NOT_TRADE_UNIONS or lowered in CAPITALISED_UNIONS and value[:1].islower():
            return False
    if form == "e_of":  # "I'm of Pakistani descent": a capitalised name, said of a person
        return value[:1].isupper() and prev_word(doc, m.start()) in _PERSONS | {
            "am",
            "is",
            "are",
            "was",
            "were",
            "i'm",
            "she's",
            "he's",
        }
    half = form == "e_is" and lowered.startswith(("half", "part"))
    if half and not value.replace("-", " ").split()[-1][:1].isupper():
        return False  # "half Korean", not "half asleep"
    if form == "p_member" and not _PARTY.fullmatch(lowered) and not value[:1].isupper():
        return False  # "member of the Labour Party", not "member of the dinner party"
    return not (form == "k_own" and value.strip().lower() in FUNCTION_WORDS)


def _person_subject(doc: Doc, pos: int) -> bool:
    """Whether the statement at `pos` is about a person: "I'm ...", "she's ...", "the user is ...",
    "Ada is ...", "my dad has ..."."""
    if doc.lower.startswith(_SUBJECT_INCLUDED, pos):
        return True
    return prev_word(doc, pos) in _PERSONS or _name_before(doc, pos)


def _person_near(doc: Doc, pos: int) -> bool:
    """A person among the four words before `pos` ("I'm a member of ...", "the user is a member")."""
    words = doc.str(max(0, pos - 48), pos).lower().replace("’", "'").split()[-4:]
    return any(w.split("'")[0] in _PERSONS for w in words)


def _name_before(doc: Doc, pos: int) -> bool:
    """'Ada has asthma', 'the user's son has ...': a capitalised name or a possessive before the verb."""
    data, i = doc.data, pos
    while i > 0 and data[i - 1 : i] == b" ":
        i -= 1
    j = i
    while j > 0 and (chr(data[j - 1]).isalpha() or data[j - 1 : j] == b"'"):
        j -= 1
    word = doc.str(j, i)
    return (
        bool(word)
        and (word[0].isupper() and j > 0 and data[j - 2 : j - 1] not in (b".", b""))
        or word.endswith("'s")
    )
