"""The process's one Kiwi analyser (`kiwipiepy`), shared by search and the AI ledger.

Its model comes from the `kiwipiepy_model` package (nothing is downloaded) and loads once per
process: about a second with the first analysis.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi, Token

# One analysis at a time: a Kiwi object is not documented as safe across threads, and the
# API serves routes from a thread pool.
_lock = threading.Lock()


_loading = threading.Lock()


def kiwi() -> Kiwi:
    """The process's Kiwi analyser (its model loads once, from the installed package)."""
    with _loading:  # a caller does not load it again while `load_meanwhile`'s thread does
        return _loaded()


def load_meanwhile() -> None:
    """Load the model on a thread, for a process that will analyse text later: Kiwi lets go
    of the interpreter lock while it loads, so the process's other work goes on."""
    threading.Thread(target=kiwi, name="kiwi-load", daemon=True).start()


@cache
def _loaded() -> Kiwi:
    from kiwipiepy import Kiwi

    # Without the multi-word dictionary (expressions Gongyu never searches by): 0.8 s and
    # ~330 MiB instead of 2.2 s and ~520 MiB, in every process that searches or sketches.
    analyser = Kiwi(num_workers=0, load_multi_dict=False)
    analyser.tokenize("모델을 불러옵니다")  # the model's parts load on first use: pay it here
    return analyser


def tokenize(text: str) -> list[Token]:
    """Kiwi's tokens of a text (form, tag, start, len), one analysis at a time."""
    analyser = kiwi()
    with _lock:
        return analyser.tokenize(text)
