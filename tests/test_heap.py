"""The garbage collector is tuned only in a process that runs nothing but gates."""

from __future__ import annotations

import gc
import json

from pytest_platformgates import heap

# Written by the inner session while its items run: what the collector was set to.
RECORDER = """\
import gc
import json


def pytest_runtest_call(item):
    seen = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}
    with open("gc.json", "w") as fh:
        json.dump(seen, fh)
"""


def _seen(project):
    return json.loads((project.path / "gc.json").read_text())


def test_a_gates_only_session_freezes_the_heap_and_puts_everything_back(project):
    project.configure({"lint": {"presets": []}})
    project.write("conftest.py", RECORDER)
    project.write("app.py", "X = 1\n")
    before = gc.get_threshold(), gc.get_freeze_count()
    project.pytester.runpytest("--gates-only", "-p", "no:randomly").assert_outcomes(passed=1)
    seen = _seen(project)
    assert tuple(seen["threshold"]) == heap.THRESHOLD
    assert seen["frozen"] > 1000  # the imports' objects
    # In-process (pytester): the next session in this process finds the collector as it was.
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_session_that_runs_tests_leaves_the_collector_alone(project):
    project.configure({"lint": {"presets": []}})
    project.write("conftest.py", RECORDER)
    project.write("test_app.py", "def test_ok():\n    pass\n")
    before = gc.get_threshold()
    result = project.pytester.runpytest("--gates", "--gates-inline", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    seen = _seen(project)  # the last item to run: the gate, after the test
    assert tuple(seen["threshold"]) == before
    assert seen["frozen"] == gc.get_freeze_count() == 0


# Records, when pytest's own last garbage collection runs, whether the heap is still frozen.
LAST_COLLECTION = """\
import gc
import json

import _pytest.unraisableexception as unraisable

real = unraisable.gc_collect_harder


def recording(iterations):
    # What a collection now would traverse: the objects tracked and not frozen.
    seen = {"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}
    with open("last-gc.json", "w") as fh:
        json.dump(seen, fh)
    real(iterations)


unraisable.gc_collect_harder = recording
"""


def test_pytests_last_collection_still_finds_the_heap_frozen(project, monkeypatch):
    import _pytest.unraisableexception as unraisable

    monkeypatch.setattr(unraisable, "gc_collect_harder", unraisable.gc_collect_harder)
    project.configure({"lint": {"presets": []}})
    project.write("conftest.py", LAST_COLLECTION)
    project.write("app.py", "X = 1\n")
    before = gc.get_freeze_count()
    project.pytester.runpytest("--gates-only", "-p", "no:randomly").assert_outcomes(passed=1)
    # Frozen, imports and session alike: it has next to nothing left to traverse (here
    # about 40 objects; about 500 with the session's own left unfrozen, 50,000 findings'
    # worth at 4x Django).
    seen = json.loads((project.path / "last-gc.json").read_text())
    assert seen["frozen"] > 1000
    assert seen["tracked"] < 150, seen
    assert gc.get_freeze_count() == before  # and put back after it


class _Config:
    """The two things heap.py uses of a pytest.Config: its stash and its cleanups."""

    def __init__(self):
        import pytest

        self.stash = pytest.Stash()
        self.cleanups = []

    def add_cleanup(self, func):
        self.cleanups.append(func)

    def close(self):
        while self.cleanups:  # last in, first out, as pytest.Config runs them
            self.cleanups.pop()()


def test_the_reserved_restore_runs_after_every_cleanup_registered_later():
    config = _Config()
    before = gc.get_threshold(), gc.get_freeze_count()
    seen = []
    heap.defer_restore(config)  # the entry point, before any plugin configures
    config.add_cleanup(lambda: seen.append((gc.get_threshold(), gc.get_freeze_count())))
    heap.tune_session(config)
    heap.park(config)
    config.close()
    # The later cleanup (pytest's own last collection) still found the heap tuned, frozen.
    assert seen[0][0] == heap.THRESHOLD
    assert seen[0][1] > before[1]
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_without_a_reserved_restore_the_session_puts_the_collector_back_itself():
    config = _Config()  # the plugin loaded past the entry point: nothing reserved
    before = gc.get_threshold(), gc.get_freeze_count()
    heap.tune_session(config)
    assert gc.get_threshold() == heap.THRESHOLD
    assert len(config.cleanups) == 1
    config.close()
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_an_untuned_session_parks_nothing():
    config = _Config()
    heap.defer_restore(config)  # reserved, but the session ran tests: never tuned
    before = gc.get_freeze_count()
    heap.park(config)
    assert gc.get_freeze_count() == before
    config.close()
    assert gc.get_freeze_count() == before


def test_paused_turns_the_collector_off_and_back_on():
    assert gc.isenabled()
    with heap.paused():
        assert not gc.isenabled()
        with heap.paused():  # nested: the inner pause leaves it to the outer one
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_paused_turns_it_back_on_after_an_error():
    try:
        with heap.paused():
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.isenabled()


def test_paused_leaves_a_collector_the_user_turned_off_off():
    gc.disable()
    try:
        with heap.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


# Records the collector's state during the test, while a gate's result is read back from
# the background process, while the evidence is written, and after the session.
PAUSES = """\
import gc
import json

import pytest
from pytest_platformgates import background
from pytest_platformgates.evidence import bundle

seen = {}
real_result = background.GateResult


class Recording(real_result):
    @classmethod
    def from_dict(cls, data):
        seen.setdefault("reading results", gc.isenabled())
        return real_result.from_dict(data)


real_publish = bundle.publish


def publish(*args, **kwargs):
    seen["writing evidence"] = gc.isenabled()
    return real_publish(*args, **kwargs)


def pytest_configure(config):
    background.GateResult = Recording
    bundle.publish = publish


def pytest_runtest_call(item):
    seen.setdefault("test", gc.isenabled())


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    background.GateResult = real_result
    bundle.publish = real_publish
    seen["after"] = gc.isenabled()
    with open("gc-pauses.json", "w") as fh:
        json.dump(seen, fh)
"""


def test_a_test_session_pauses_the_collector_for_its_own_bulk_work_only(project):
    project.configure({"lint": {"presets": []}})
    project.write("conftest.py", PAUSES)
    project.write("test_app.py", "def test_ok():\n    pass\n")
    # A subprocess: the background process is only started for a session of its own.
    result = project.pytester.runpytest_subprocess("--gates", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    seen = json.loads((project.path / "gc-pauses.json").read_text())
    assert seen == {
        "test": True,
        "reading results": False,
        "writing evidence": False,
        "after": True,
    }
