"""Modules GX imports at start-up for expectations the gate never runs, loaded on first use.

`import great_expectations` imports every core expectation, and one of them (KL divergence)
pulls in `scipy.stats` and `altair`: ~2 of its ~6 seconds, paid by every `gongyu run`. Each is
put in `sys.modules` as the module not yet run: its first attribute read runs it, in place;
a contract that does use them pays the import then, and only then.

Not `importlib.util.LazyLoader` (nor `lazy_loader`, built on it): on Python 3.11 the import
statement reads the lazy module's `__spec__`, which loads it at once.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

DEFERRED = ("scipy.stats", "altair")

_lock = threading.RLock()


class _Deferred(types.ModuleType):
    """A module not run yet: the first attribute it lacks runs it, in place."""

    def __getattr__(self, name: str) -> Any:
        with _lock:
            if type(self) is _Deferred:
                # In place, as the import system would have: every name bound to the stand-in
                # (`from scipy import stats` in GX) is the module itself.
                self.__class__ = types.ModuleType
                spec = self.__spec__
                spec._initializing = True
                try:
                    spec.loader.exec_module(self)
                except BaseException:
                    sys.modules.pop(self.__name__, None)
                    raise
                finally:
                    spec._initializing = False
        return object.__getattribute__(self, name)


def defer(name: str) -> None:
    """Put a stand-in for `name` in `sys.modules` unless it is imported or not installed."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    stand_in = importlib.util.module_from_spec(spec)
    stand_in.__class__ = _Deferred
    sys.modules[name] = stand_in


def defer_unused() -> None:
    """Defer the modules GX imports only for expectations the gate does not run."""
    with _lock:
        for name in DEFERRED:
            defer(name)
