"""Reading the framework's YAML files safely: skills, policies, config.yaml, the demo screenplay.

These files come from people and from checkouts, so every one is read through `read_yaml`
(`load_yaml` for the data alone), which refuses, each time naming the file (and the line, when
there is one):

- a file over `MAX_BYTES` (1 MB; a skill, policy or config file is a few KB), before reading it;
- bytes that are not UTF-8 (the error gives the byte's offset and line);
- aliases (`*name`, including `<<: *name` merges): they let a 1 KB file expand to billions of
  nodes (the "billion laughs"); these files are short and hand-written, so write the value out;
- nesting deeper than `MAX_DEPTH` levels (PyYAML's composer recurses once per level);
- a key given twice in one mapping: YAML would keep the last one without a word, so a second
  `enforcement: soft` further down would quietly weaken a policy;
- an escape that makes a NUL or a lone surrogate (`"\\0"`, `"\\ud800"`): no database or encoder
  takes them, so they would crash whatever stores or sends the text later.

Only plain data comes back (PyYAML's safe loader: mappings, lists, text, numbers, booleans, dates).
Every refusal is a `YamlFileError`, a `yaml.YAMLError`, so code that catches YAML errors catches it.
`YamlDocument.line_of` maps a validator's location, e.g. ('applies_to', 'tools', 0), to its line.
"""

from __future__ import annotations

import difflib
import re
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

MAX_BYTES = 1_000_000  # a framework YAML file is a few KB; anything near 1 MB is a mistake or an attack
MAX_DEPTH = 64  # levels of nesting; real files use fewer than 6
UTF8_BOM = b"\xef\xbb\xbf"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class YamlFileError(yaml.YAMLError):
    """A YAML file the framework will not read: `path`, `line` (1-based, or None) and `reason`."""

    def __init__(self, path: Path, reason: str, line: int | None = None) -> None:
        super().__init__(f"{path}:{line}: {reason}" if line is not None else f"{path}: {reason}")
        self.path, self.reason, self.line = path, reason, line


@dataclass(frozen=True)
class YamlDocument:
    """A file's plain data, and its node tree to say which line a value came from."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Sequence[str | int], *, key: bool = False) -> int | None:
        """The line of the value at `loc` (of its key, with `key`); when `loc` goes deeper than
        the file (a missing field), the line of the deepest part that is there."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, yaml.MappingNode):
                pair = next((kv for kv in node.value if _is_key(kv[0], part)), None)
                if pair is None:
                    break
                key_node, node = pair
                line = (key_node if key and last else node).start_mark.line + 1
            elif (
                isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def where(self, loc: Sequence[str | int] = (), *, key: bool = False) -> str:
        """`path:line` for `loc` (see `line_of`), or the path alone when the file is empty."""
        line = self.line_of(loc, key=key)
        return f"{self.path}:{line}" if line is not None else str(self.path)


def load_yaml(path: Path, *, fill: Mapping[str, str] | None = None) -> Any:
    """The plain data of a YAML file, read safely (see the module's docstring)."""
    return read_yaml(path, fill=fill).data


def read_yaml(path: Path, *, fill: Mapping[str, str] | None = None) -> YamlDocument:
    """Read, check and parse a YAML file; YamlFileError names the file (and line) when refused.
    `fill`: literal text replacements made after decoding, before parsing (the demo's fake key)."""
    path = Path(path)
    text = _decode(path, _read_capped(path))
    for old, new in (fill or {}).items():
        text = text.replace(old, new)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        if root is not None:
            _check_nodes(path, root)
        return YamlDocument(path, loader.construct_document(root) if root is not None else None, root)
    except YamlFileError:
        raise
    except _Refused as exc:
        raise YamlFileError(path, exc.reason, exc.line) from None
    except yaml.reader.ReaderError as exc:
        at = text.count("\n", 0, exc.position) + 1
        raise YamlFileError(path, f"not valid YAML: {exc.reason} #x{exc.character:04x}", at) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = ": ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlFileError(path, f"not valid YAML: {what}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlFileError(path, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise YamlFileError(path, f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        if loader is not None:
            loader.dispose()


def shown(value: Any, limit: int = 60) -> str:
    """A value's repr, cut to about `limit` characters (an error message must stay one line)."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = limit
    short.maxlist = short.maxdict = 6
    return short.repr(value)


def did_you_mean(word: object, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a known name is close to `word`, else ''."""
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- internals ------------------------------------------------------------------------------------
class _Refused(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


try:  # libyaml parses the events (4-5x faster); the tree is composed here, in Python, to check it
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    class _SafeLoader(Composer, CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

except ImportError:  # PyYAML built without libyaml: all in Python
    _SafeLoader = yaml.SafeLoader  # type: ignore[misc,assignment]


class _Loader(_SafeLoader):
    """The safe loader, refusing aliases and deep nesting while it composes the node tree."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event is not None and event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                line,
                f"alias *{event.anchor} refused: aliases can expand a small file into a huge one "
                "(the 'billion laughs'); write the value out instead",
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(line, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _read_capped(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise YamlFileError(path, f"{size:,} bytes, over the {MAX_BYTES:,}-byte limit for YAML files")
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)  # the file may have grown since stat, or be a pipe
    except OSError as exc:
        raise YamlFileError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise YamlFileError(path, f"over the {MAX_BYTES:,}-byte limit for YAML files")
    return raw


def _decode(path: Path, raw: bytes) -> str:
    body = raw.removeprefix(UTF8_BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(raw) - len(body)
        line = raw.count(b"\n", 0, offset) + 1
        raise YamlFileError(
            path, f"not UTF-8: byte 0x{raw[offset]:02x} at offset {offset}; save the file as UTF-8", line
        ) from None


def _is_key(node: yaml.Node, part: str | int) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == str(part)


def _check_nodes(path: Path, root: yaml.Node) -> None:
    """Refuse a key given twice in one mapping, and text that no store or encoder takes: a NUL or a
    lone surrogate, which only an escape (`"\\0"`, `"\\ud800"`) can put in a YAML string."""
    pending = [root]
    while pending:  # no recursion: depth is capped, but a loop is simpler to trust
        node = pending.pop()
        if isinstance(node, yaml.ScalarNode) and (bad := _UNSTORABLE.search(node.value)):
            raise YamlFileError(
                path,
                f"an escape makes {'a NUL' if bad.group() == chr(0) else 'a lone surrogate'} "
                f"(U+{ord(bad.group()):04X}), which cannot be stored: remove it",
                node.start_mark.line + 1,
            )
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        raise YamlFileError(
                            path, f"key {key.value!r} is given twice (first on line {seen[key.value]})", line
                        )
                    seen[key.value] = line
                pending += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            pending += node.value
