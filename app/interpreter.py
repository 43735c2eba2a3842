"""Process-wide interpreter settings the server relies on, which an imported library may change.

py_ecc (imported through eth-account) raises the recursion limit to 100,000 when imported: past
what a thread's C stack holds, so deep input crashed the process (SIGSEGV) where it would have
raised RecursionError. A limit on the digits of int(str) (quadratic in their number) is on by
default and a library could turn it off. `enforce` puts back each setting found changed and says
so in the log; the server calls it at start-up and its watchdog again every second, in case a
library imported later changes one.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

RECURSION_LIMIT = 1000  # CPython's default, which every thread's C stack holds
INT_MAX_STR_DIGITS = 4300  # CPython's default


def enforce() -> list[str]:
    """Restores the settings above where they were loosened; returns what it changed."""
    changed = []
    if sys.getrecursionlimit() > RECURSION_LIMIT:
        changed.append(f"recursion limit {sys.getrecursionlimit()} -> {RECURSION_LIMIT}")
        sys.setrecursionlimit(RECURSION_LIMIT)
    digits = sys.get_int_max_str_digits()
    if digits == 0 or digits > INT_MAX_STR_DIGITS:
        changed.append(f"int max str digits {digits} -> {INT_MAX_STR_DIGITS}")
        sys.set_int_max_str_digits(INT_MAX_STR_DIGITS)
    for change in changed:
        log.warning("an imported library changed a process-wide setting; restored: %s", change)
    return changed
