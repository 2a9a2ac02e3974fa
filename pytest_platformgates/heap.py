"""The garbage collector, tuned for a process that runs nothing but gates.

A warm run of every gate on Django spends 0.2 s of its 1.2 s in the cyclic garbage
collector: each gen-0 collection after 700 allocations, and each full collection
traversing the 60,000 objects the imports made (pytest, coverage.py, cryptography,
the gates). Loading thousands of cached findings allocates a lot and makes few
cycles. So, as mypy does for its own runs, a process that runs gates only freezes the
heap the imports left (``gc.freeze()``: those objects are never traversed again) and
collects less often. Never in a session that runs the project's tests: those may
depend on when the collector runs.

A session that does run tests still pauses the collector around the plugin's own bulk
work once the tests are done (:func:`paused`): reading a gate's findings back from the
background process and writing the evidence. At 52,000 findings the collector's full
collections over a heap the tests had grown took 0.43 s of the 2.4 s a session spent
after its last test.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

import pytest

#: gen-0 after 10,000 allocations instead of 700; the older generations less often too.
THRESHOLD = (10_000, 50, 100)


def tune_for_gates() -> Callable[[], None]:
    """Freeze the heap and raise the thresholds; return what puts both back.

    Putting them back matters when the session is one of several in a process
    (pytester's in-process runs): the objects frozen here are collected again after.
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLD)

    def restore() -> None:
        gc.set_threshold(*before)
        gc.unfreeze()

    return restore


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off while the plugin's own code builds many objects that make no
    cycles (findings decoded, evidence encoded), and on again right after, if it was on.

    Nothing a test or a fixture runs is inside: what the tests see of the collector is
    unchanged. A collector already off (the user's choice, or an enclosing pause) is
    left as it is.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


#: What puts the collector back after this session, once :func:`tune_session` tuned it.
restore_key = pytest.StashKey[list[Callable[[], None]]]()


def defer_restore(config: pytest.Config) -> None:
    """Reserve the session's restore, to run after every other cleanup.

    Called from ``pytest_load_initial_conftests``, before any plugin's
    ``pytest_configure``: cleanups run last in, first out, so pytest's own final
    collection (unraisableexception.py) still finds the heap frozen, and takes 1 ms
    instead of 25.
    """
    config.stash[restore_key] = []
    config.add_cleanup(lambda: _restore(config))


def tune_session(config: pytest.Config) -> None:
    """Tune the collector for a session that runs nothing but gates, and have it put back
    by the restore :func:`defer_restore` reserved (or by a cleanup of its own, when the
    plugin was loaded past the entry point)."""
    restore = tune_for_gates()
    later = config.stash.get(restore_key, None)
    if later is not None:
        later.append(restore)
    else:
        config.add_cleanup(restore)


def park(config: pytest.Config) -> None:
    """Freeze what a tuned session made too, its evidence written: pytest's last
    collections at exit then have next to nothing to traverse (0.1 s of a warm run at
    45,000 findings). The session's restore unfreezes it all."""
    if config.stash.get(restore_key, None):
        gc.freeze()


def _restore(config: pytest.Config) -> None:
    for restore in config.stash.get(restore_key, []):
        restore()
    config.stash[restore_key] = []
