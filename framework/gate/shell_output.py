"""What a command prints when the command text alone decides it (echo, printf, cat of a here-doc,
base64 -d of such text...): the value of `$(echo rm)`, and what a pipe feeds the next stage."""

from __future__ import annotations

import re

from framework.gate.shell_words import MAX_EXPANSION, Command, Word, decode_escapes, describe, program_name


def _split_substitution(value: str, quoted: bool) -> list[Word]:
    value = value.rstrip("\n")
    return [Word(value, quoted=True)] if quoted else [Word(v) for v in value.split()]


def _pipeline_value(cmds: list[Command]) -> str | None:
    """What a `$( ... )` prints when it is one pipeline of commands whose output we can compute."""
    if not cmds:
        return ""
    chain, cmd = 1, cmds[-1]
    while cmd.upstream is not None:
        chain, cmd = chain + 1, cmd.upstream
    return output(cmds[-1]) if chain == len(cmds) else None


def stdin_of(cmd: Command, hops: int = 0) -> Word | None:
    """What a command reads: a here-doc or here-string, a file, or its pipe's (maybe known) text."""
    for op, word in reversed(cmd.redirects):
        if op == "<<<":
            return word
        if op == "<":
            return Word(word.text, "file")
    up = cmd.upstream
    if up is None:
        return None
    files = [w for w in up.words[1:] if not w.text.startswith("-")]
    if up.words and program_name(up.words[0].text) == "cat" and files and not any(w.dynamic for w in files):
        return Word(" ".join(w.text for w in files), "file")  # `cat x.sql | psql` reads a file
    text = output(up, hops + 1) if hops < 32 else None
    return Word(text) if text is not None else Word(describe(up), "subst")


def _printf(args: list[str]) -> str:
    fmt, values, out = decode_escapes(args[0]), args[1:], []
    spec = re.compile(r"%%|%[-+ #0-9.]*([sbdciouxXfgeEq])")
    while True:

        def fill(m: re.Match[str]) -> str:
            if m.group(0) == "%%":
                return "%"
            value = values.pop(0) if values else ""
            return decode_escapes(value) if m.group(1) == "b" else value

        out.append(spec.sub(fill, fmt))
        if not values or spec.search(fmt) is None or sum(map(len, out)) > MAX_EXPANSION:
            return "".join(out)


def _decoded(prog: str, args: list[str], data: str) -> str | None:
    import base64
    import binascii

    try:
        if prog in ("base64", "base32") or (prog == "openssl" and {"-d", "base64"} <= set(args) | {"base64"}):
            raw = re.sub(r"\s", "", data)
            raw += "=" * (-len(raw) % (8 if prog == "base32" else 4))
            blob = base64.b32decode(raw) if prog == "base32" else base64.b64decode(raw)
        elif prog == "xxd":
            blob = binascii.unhexlify(re.sub(r"\s", "", data))
        else:  # rev
            return "\n".join(line[::-1] for line in data.split("\n"))
    except (ValueError, binascii.Error):
        return None
    return blob.decode("utf-8", errors="replace")


def output(cmd: Command, hops: int = 0) -> str | None:
    """The text a command prints, when the command text alone decides it (echo, printf, cat of a
    here-doc, base64 -d of such text...); None when it depends on the world (files, network)."""
    if not cmd.words or any(w.dynamic for w in cmd.words):
        return None
    prog, args = program_name(cmd.words[0].text), [w.text for w in cmd.words[1:]]
    if prog == "echo":
        flags = set()
        while args and re.fullmatch(r"-[neE]+", args[0]):
            flags |= set(args.pop(0)[1:])
        text = " ".join(args)
        return (decode_escapes(text, octal_needs_zero=True) if "e" in flags else text) + (
            "" if "n" in flags else "\n"
        )
    if prog == "printf":
        return _printf(args) if args else None
    decoding = {"-d", "--decode", "-D", "-r"} & set(args) or prog == "rev"
    if prog in ("cat", "tee") or (decoding and prog in ("base64", "base32", "openssl", "xxd", "rev")):
        if prog == "cat" and any(not a.startswith("-") for a in args):
            return None  # cat of a file
        fed = stdin_of(cmd, hops)
        if fed is None or fed.dynamic:
            return None
        return fed.text if prog in ("cat", "tee") else _decoded(prog, args, fed.text)
    return None
