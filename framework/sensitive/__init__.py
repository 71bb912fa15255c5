"""Secrets and personal data: found, and redacted, before anything is stored or logged.

A floor below both the loop and memory, so either can use it without reaching into the other.
"""

from framework.sensitive.detect import (
    Finding,
    find_sensitive,
    luhn_ok,
    redact,
    repeats_secret,
    sensitive_values,
)

__all__ = ["Finding", "find_sensitive", "luhn_ok", "redact", "repeats_secret", "sensitive_values"]
