"""Is this word a value? Placeholders, descriptions and secret-shaped strings.

After "the password is", a sentence goes on with the password ("hunter2x") or with something said
about it ("wrong", "stored in 1Password", "my cat's name"). These rules tell them apart by grammar
(closed word classes: determiners, pronouns, prepositions, and words describing a credential's state),
by morphology (participles, adverbs and adjectives: "expired", "changing", "mandatory"), and by shape
(placeholders and public examples: `${TOKEN}`, `<your-password>`, `xxxx`, `AKIAIOSFODNN7EXAMPLE`).
"""

from __future__ import annotations

import re

# Closed classes: a value never is one of these words.
FUNCTION_WORDS = frozenset(
    """a an the my your his her our their its this that these those which what who whom whose where when
    how why if whether because and or but so then than not no yes none nil null undefined it he she they we
    you i me him them us mine yours ours theirs hers one some any all each every both either neither also
    too very really quite pretty rather kind sort still already again ever never always usually often
    sometimes at in on by for of to from with without into onto under over about like as is was be been
    being are were am has have had do does did can could will would should must may might shall please
    thanks thank sure ok okay fine good great nice cool same different below above attached following here
    there now just only even exactly literally simply actually currently probably definitely something
    nothing anything everything someone anyone everyone whatever another other such own instead since until
    till after before during though while""".split()
)
# Words that describe a credential rather than being one ("the password is wrong").
STATE_WORDS = frozenset(
    """wrong incorrect correct right invalid valid expired required needed mandatory optional missing empty
    blank set unset changed reset locked unlocked stored saved encrypted hashed salted sensitive
    insensitive weak strong secure insecure long short known unknown shared public private personal new
    old easy hard simple complex complicated random generated unique working broken forgotten lost
    temporary temp default standard current previous next unchanged obvious impossible confidential safe
    enough secret same fake real true false ready done case too due gone expiring left kept sent put made
    given taken written shown hidden stolen chosen found held told spent sold built caught brought meant
    gotten got read""".split()
)
# Words of the credential vocabulary itself ("password is password", `token: TOKEN`): not values.
KEYWORD_WORDS = frozenset(
    """password passwords passwd pwd pw pass passphrase passcode pin pins code secret secrets token tokens
    key keys apikey api_key api-key credential credentials creds login username user value values string
    phrase number hash str int bool bytes secretstr optional text varchar name type id""".split()
)
_PLACEHOLDER_SEGMENTS = frozenset(
    """your yours example examples sample dummy placeholder changeme redacted replace insert fake foobar
    todo tbd xxx xxxx here mytoken mypassword yourpassword yourtoken""".split()
)
_ROLE = re.compile(r":[a-z]+:")
_MARKUP = re.compile(r"[\[\](){}<>/\\`]")
# words, snake_case, Content-Type, Lib/keyword.py
_IDENTIFIER = re.compile(r"[A-Za-z]+(?:[_./-][A-Za-z]+)*/?")
_WORD_LIKE = re.compile(r"[\w'’-]+[!?.,]?$")
_PLACEHOLDER_HINT = re.compile("|".join(sorted(_PLACEHOLDER_SEGMENTS, key=len, reverse=True)))
# Participles, adverbs and adjectives by their endings ("expired", "changing", "securely"); short words
# keep their chance to be a value ("spring", "jelly", "olive", "table").
_MORPHOLOGY = re.compile(
    r"^(?:[a-z]{3,}(?<!e)ed|[a-z]{4,}ing|[a-z]{5,}(?<!f)ly|[a-z]{3,}(?:able|ible|ive|ous|ful|less))$"
)
_MASK = frozenset("xX*•.#-_?… ")
_SEGMENTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# ${VAR}, $VAR, $(cmd), <your-key>, {{ secret }}, {name}, [REDACTED], %(name)s, %VAR%
_TEMPLATE = re.compile(
    r"^(?:\$[{(A-Za-z_]|\{|\[|%\(|%[A-Za-z_]+%)|<[^>]*>|\{\{|\$\{|\{[A-Za-z_][\w.]*\}|\]\("
)
_CODE_REFERENCE = re.compile(
    r"^(?:[A-Za-z_][\w.]*[(\[]|(?:os\.environ|process\.env|env|ENV|secrets|vars|settings|config)[.\[(])"
)
PUBLIC_PREFIXES = ("pk_live_", "pk_test_")  # publishable keys are public by design
TRAILING = ".,;:)]}>\"'’”"
LEADING = "([{<\"'‘“"


def trim(value: str) -> str:
    """A value without the punctuation that ends the sentence around it."""
    return value.rstrip(TRAILING).lstrip(LEADING)


def is_placeholder(value: str) -> bool:
    """A template variable, a mask, an environment reference or a public example, not a secret."""
    v = value.strip()
    if not v:
        return True
    lowered = v.lower()
    if lowered in KEYWORD_WORDS or "example" in lowered or "xxxxxx" in lowered or "***" in v:
        return True  # password: PASSWORD, AKIAIOSFODNN7EXAMPLE, sk-xxxxxxxx, ****
    if "`" in v or _ROLE.match(v):
        return True  # documentation markup: :class:`Token`, `value`, :param:
    if (v[0] in "$<{[%" or "<" in v or "{" in v or "](" in v) and _TEMPLATE.search(v):
        return True
    if v.endswith(("...", "…")) or v.startswith(PUBLIC_PREFIXES):
        return True
    chars = set(v)
    if chars <= _MASK or (len(chars) == 1 and len(v) >= 4):
        return True  # xxxx, ----, 0000
    if ("(" in v or "." in v or "[" in v) and _CODE_REFERENCE.match(v.lstrip("([{")):
        return True  # os.getenv('X'), Optional[Union[str, bool]], (Union[bool, str, None]
    hinted = _PLACEHOLDER_HINT.search(lowered) is not None
    if hinted and {s.lower() for s in _SEGMENTS.findall(v)} & _PLACEHOLDER_SEGMENTS:
        return True  # YOUR_API_KEY, token-here, <insert token>
    if "_" in v or "-" in v or "." in v:  # DB_PASSWORD, GITHUB_TOKEN, db_password: a reference to one
        parts = [p for p in re.split(r"[_.-]", lowered) if p]
        if len(parts) > 1 and (v.isupper() or v.islower()) and all(p.isalpha() for p in parts):
            return bool(KEYWORD_WORDS.intersection(parts))
    return False


def is_description(word: str, *, morphology: bool = True) -> bool:
    """A word that says something about a credential instead of being one."""
    w = word.lower().strip(TRAILING + LEADING + "!?")
    if not w or w in FUNCTION_WORDS or w in STATE_WORDS or w in KEYWORD_WORDS:
        return True
    if w.endswith("'s") or w.endswith("’s"):  # "my cat's name": a possessive starts a description
        return True
    if morphology and word.islower() and any(_MORPHOLOGY.match(part) for part in w.split("-")[-1:]):
        return True  # "expired", "case-sensitive"
    if "-" in w and all(p in STATE_WORDS or p in FUNCTION_WORDS for p in w.split("-") if p):
        return True  # "too-short", "well-known"
    return bool(re.fullmatch(r"(?:https?|ftp)://\S*|[~.]{0,2}/[\w./-]*", w))  # a URL or a path


def leading_content(phrase: str, minimum: int = 2) -> str:
    """The words of `phrase` up to its first function word, if there are at least `minimum` of them and
    none but the first describes ("correct horse battery staple and I love it" -> "correct horse battery
    staple"; "case sensitive btw" -> ""): a multi-word value, unquoted."""
    words: list[str] = []
    for w in phrase.split()[:12]:
        if w.lower().strip(TRAILING + "!?") in FUNCTION_WORDS or not _WORD_LIKE.match(w):
            break  # a function word, or a token that is not a word ("mysql://...", "(see", "—")
        words.append(w)
    if len(words) < minimum or any(is_description(w) or is_placeholder(w) for w in words[1:]):
        return ""
    return " ".join(words)


def classes(value: str) -> int:
    """How many of lower case, upper case, digits and other characters `value` uses."""
    return (
        (value.upper() != value)
        + (value.lower() != value)
        + any(map(str.isdigit, value))
        + (not value.isalnum())
    )


def strong(value: str, min_len: int = 8) -> bool:
    """Shaped like a generated or chosen secret: long enough, with a digit and letters or symbols, or
    with mixed case and a symbol; not a version, date, time, amount, number, identifier or path."""
    v = value
    if len(v) < min_len or " " in v:
        return False
    if re.fullmatch(r"[vV]?\d+(?:[._:/-]\d+)*(?:[-+.]?[A-Za-z]+\d*)?|\d+(?:[.,]\d+)?[A-Za-z%]{0,3}", v):
        return False  # 1.2.3, 2024-05-01, 08:30, 1.4.2-rc1, 250ms, 8GB
    has_digit = any(c.isdigit() for c in v)
    if not has_digit and _IDENTIFIER.fullmatch(v):
        return False  # last_forgetting_cycle, Content-Type, Lib/keyword.py: words, not a generated secret
    n = classes(v)
    if has_digit:
        return n >= 2
    # no digit: mixed case and a symbol ("Ma$terKey!"), and nothing of markup or paths ("guide](../x)")
    return n >= 3 and any(c.isupper() for c in v) and any(c.islower() for c in v) and not _MARKUP.search(v)


def word_value(value: str) -> bool:
    """A value after a strong keyword ("the password is X"): anything but a description or placeholder."""
    return len(value) >= 3 and not is_description(value) and not is_placeholder(value)
