"""The words of SQLite's lexical index (FTS5): a user's owner word, which scopes a search to the
user's rows, and each user's words written as their own, so that FTS5's document frequencies are
per user (see sqlite.py for the searches)."""

from __future__ import annotations

import hashlib
import re

# A user's words are indexed as words of their own: each is written with the user's prefix glued to
# it ("walrus" -> "kqzvtbmcwalrus"), so that FTS5's document frequencies, which it counts over the
# whole file, are each user's own (a word other users write often does not change how a user's
# memories rank). The prefix is consonants only: porter's measure of a word and its "contains a
# vowel" test are then the word's own (the prefix joins its leading consonants), so words stem as
# before but for a few (18 of LoCoMo's 5,672: short ones opening with a vowel, whose "cvc" ending
# test sees a prefix consonant; they keep their classes: "use", "used", "using" share a stem). Words
# are found as unicode61 finds its tokens (letters and digits; "_" and punctuation split), queries
# are written the same way.
_PREFIX_LETTERS = "bcdfghjklmnpqrstvwxz"
_TOKEN = re.compile(r"[^\W_]+")


def word_prefix(user_id: str) -> str:
    digest = hashlib.blake2b(user_id.encode(), digest_size=8).digest()
    return "".join(_PREFIX_LETTERS[b % len(_PREFIX_LETTERS)] for b in digest)


def as_users_words(user_id: str, text: str) -> str:
    """`text` with every word written as the user's own (see word_prefix)."""
    prefix = word_prefix(user_id)
    return _TOKEN.sub(lambda m: prefix + m[0], text)


def owner_token(user_id: str) -> str:
    """One word that stands for a user in the lexical index: a lexical search looks only at that
    user's rows instead of every user's matches (the user_id filter still follows, exactly)."""
    return "o" + hashlib.blake2b(user_id.encode(), digest_size=10).hexdigest()
