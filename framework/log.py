"""The runtime's log: one file per FRAMEWORK_HOME (logs/framework.log), owner-only (0600 in a
0700 folder).

Failures that a turn survives (a model call that failed after its retries, a rejected memory)
are recorded in the Turn and here, so they are never silent. The log carries no memory text:
what it says about memory is ids, kinds and the framework's own reasons (`authored_reason`),
and users appear by `user_ref`, so that deleting a user leaves nothing of theirs in it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from pathlib import Path

from framework.config import private_dir, private_file

logger = logging.getLogger("framework")
_FORMAT = "%(asctime)s %(levelname)s %(message)s"
WITHHELD = "[text withheld]"

# Reasons the framework writes itself (curation, the write policy, learning, consent, approvals,
# merges, the forgetting cycle, the gate, the CLI): kept whole. Anything else may hold a user's
# or a model's words (a forget request's reason, a --reason given on the command line) and is
# withheld. A new template the framework starts writing must be added here to be kept.
_REASONS = [
    r"recall",
    r"guided a (success|failure)",
    r"(user )?opted (out of long-term memory|in)",
    r"(approved|rejected) by a human",
    r"merged (into #\d+|on request: #\d+(, #\d+)*)",
    r"new( \((compared with similar memories|not compared: no model)\))?",
    r"near-duplicate of a stored memory",
    r"(restates|refines) #\d+ \((as the extraction judged|compared)\)",
    r"contradicts #\d+(: the new \w+ statement wins|, which is better supported \(\w+\); kept "
    r"superseded for the audit) \((as the extraction judged|compared)\)",
    r"anonymous( session: nothing is written to long-term memory)?",
    r"sensitive: [\w ,-]+",
    r"low confidence [\d.]+ < [\d.]+",
    r"transient: meant for now, not for later",
    r"speculative: not a settled fact or preference",
    r"session cap: \d+ writes per session",
    r"expired: past its valid_until",
    r"pruned: confidence below [\d.e+-]+",
    r"superseded or forgotten over [\d.e+-]+ days ago",
    r"forget request for a memory this turn did not show",
    r"provenance: [^\"'\n]*",  # origins are ids and tool names
    r"[\w.@-]+: (allow|warn|deny|approve|error)",  # a gated tool call: tool and verdict
    r"erasure requested|forgotten on request \(CLI\)|/forget in chat|scale import|locomo turn",
]
_AUTHORED = re.compile("|".join(f"(?:{r})" for r in _REASONS))
_PENDING = "awaiting approval: "


def authored_reason(reason: str) -> str:
    """`reason` when the framework wrote it (a template of ids, kinds and numbers), else WITHHELD:
    what a log line or an erased user's audit may keep of a reason."""
    if reason.startswith(_PENDING):
        return _PENDING + authored_reason(reason[len(_PENDING) :])
    return reason if _AUTHORED.fullmatch(reason) else WITHHELD


def headline(error: str) -> str:
    """An error message up to its first colon ("memory extraction failed", "skill x@1 stopped at
    step 2"): what failed, without the details that may quote a user's or a model's words."""
    return error.split(":", 1)[0].strip() or WITHHELD


def user_ref(user_id: str | None) -> str:
    """How the log names a user: a short hash of the id, never the id ("-": anonymous). The same
    id always gives the same ref (`framework.log.user_ref("ada")` finds a user's lines), and the
    log holds nothing to erase when the user is deleted."""
    if user_id is None:
        return "-"
    return "u-" + hashlib.blake2b(user_id.encode(), digest_size=8).hexdigest()


# Loggers of the libraries that see prompts, replies and tool results: their records are redacted
# as they are made, wherever they are then written (our file, stderr, an application's handlers).
_DEPENDENCIES = ("LiteLLM", "litellm", "instructor", "openai", "httpx", "httpcore", "mcp", "framework")
_factory_installed = False


def redact_dependency_logs() -> None:
    """Install (once per process) a log-record factory that redacts secrets and personal data in
    every record of the framework's and its LLM and MCP libraries' loggers."""
    global _factory_installed
    if _factory_installed:
        return
    from framework.sensitive import redact

    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith(_DEPENDENCIES):
            # a record whose arguments do not fit its format is kept as it is
            with contextlib.suppress(Exception):
                record.msg, record.args = redact(record.getMessage()), None
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def log_to(home: Path) -> Path:
    """Send the framework's log to `home`/logs/framework.log (once per file), owner-only."""
    path = (home / "logs" / "framework.log").resolve()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        private_dir(path.parent)
        private_file(path)  # the handler appends to it: it keeps this mode whatever the umask
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    redact_dependency_logs()
    return path
