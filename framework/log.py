"""The runtime's log: one file per FRAMEWORK_HOME (logs/framework.log), lines already redacted.

Failures that a turn survives (a model call that failed after its retries, a rejected memory)
are recorded in the Turn and here, so they are never silent.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger("framework")
_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def log_to(home: Path) -> Path:
    """Send the framework's log to `home`/logs/framework.log (once per file)."""
    path = (home / "logs" / "framework.log").resolve()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return path
