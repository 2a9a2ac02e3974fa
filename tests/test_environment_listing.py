"""The environment listing kept between sessions: reused only while nothing it read changed."""

from __future__ import annotations

import os
import shutil

import pytest

from pytest_platformgates import dependencies
from pytest_platformgates.cache import split_checked, verified_body, write_checked
from tests.installed_support import add_dist, dist, fake_env


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    where = tmp_path_factory.mktemp("env") / "venv"
    fake_env(where, [dist("alpha", "1.0"), dist("beta", "2.0", Requires_Dist="alpha")])
    return where


@pytest.fixture
def env(template, tmp_path):
    where = tmp_path / "venv"
    shutil.copytree(template, where, symlinks=True)
    python = where / "bin" / "python"
    site = next((where / "lib").glob("python*/site-packages"))
    return str(python), site


@pytest.fixture
def runs(monkeypatch):
    """How many times the interpreter was started to list its distributions."""
    started: list[object] = []
    real = dependencies.run_tool

    def counting(*args, **kwargs):
        started.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(dependencies, "run_tool", counting)
    return started


def names(listing):
    return sorted((e["name"], e["version"]) for e in listing)


def listed(python, keep, *, later: float = 10.0):
    """List, then make the kept listing look ``later`` seconds younger than it is.

    The environment a test builds is seconds old: a listing made right after it is racy
    (a second change could hide inside one timestamp) and would never be reused. Real
    environments are hours old.
    """
    listing = dependencies.list_environment(python, keep=keep)
    for kept in keep.glob("environment-*.json"):
        header, body = split_checked(kept.read_bytes())
        doc = verified_body(header, body)
        doc["trusted_before"] += int(later * 1e9)
        write_checked(kept, {k: v for k, v in header.items() if k != "checksum"}, doc)
    return listing


def test_a_second_session_reuses_the_listing_without_starting_the_interpreter(env, runs, tmp_path):
    python, _ = env
    keep = tmp_path / "keep"
    first = listed(python, keep)
    second = dependencies.list_environment(python, keep=keep)
    assert names(first) == names(second) == [("alpha", "1.0"), ("beta", "2.0")]
    assert second == first
    assert len(runs) == 1
    assert len(list(keep.glob("environment-*.json"))) == 1


def _install(site):
    add_dist(site, dist("gamma", "3.0"))


def _remove(site):
    shutil.rmtree(site / "alpha-1.0.dist-info")


def _edit_in_place(site):
    metadata = site / "beta-2.0.dist-info" / "METADATA"
    metadata.write_text(metadata.read_text().replace("Version: 2.0", "Version: 2.1"))


def _add_pth(site):
    extra = site.parent / "extra"
    add_dist(extra, dist("delta", "4.0"))
    (site / "extra.pth").write_text(str(extra) + "\n")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(_install, [("alpha", "1.0"), ("beta", "2.0"), ("gamma", "3.0")], id="install"),
        pytest.param(_remove, [("beta", "2.0")], id="remove"),
        pytest.param(_edit_in_place, [("alpha", "1.0"), ("beta", "2.1")], id="metadata-edited"),
        pytest.param(_add_pth, [("alpha", "1.0"), ("beta", "2.0"), ("delta", "4.0")], id="pth"),
    ],
)
def test_any_change_to_what_was_read_lists_again(env, runs, tmp_path, change, expected):
    python, site = env
    keep = tmp_path / "keep"
    listed(python, keep)
    change(site)
    assert names(dependencies.list_environment(python, keep=keep)) == expected
    assert len(runs) == 2


def test_a_pth_file_edited_in_place_lists_again(env, runs, tmp_path):
    python, site = env
    extra = site.parent / "extra"
    add_dist(extra, dist("delta", "4.0"))
    pth = site / "extra.pth"
    pth.write_text("\n")
    keep = tmp_path / "keep"
    assert ("delta", "4.0") not in names(listed(python, keep))
    pth.write_text(str(extra) + "\n")  # site-packages itself is not touched
    assert ("delta", "4.0") in names(dependencies.list_environment(python, keep=keep))
    assert len(runs) == 2


def test_pythonpath_is_part_of_the_key(env, runs, tmp_path, monkeypatch):
    python, _ = env
    extra = tmp_path / "extra"
    add_dist(extra, dist("delta", "4.0"))
    keep = tmp_path / "keep"
    listed(python, keep)
    monkeypatch.setenv("PYTHONPATH", str(extra))
    assert ("delta", "4.0") in names(dependencies.list_environment(python, keep=keep))
    assert len(runs) == 2


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[:-5], id="truncated"),
        pytest.param(lambda raw: raw.replace(b"alpha", b"alphx"), id="body-changed"),
        pytest.param(lambda raw: b"\x00\xff" + raw, id="garbage"),
        pytest.param(lambda raw: b"", id="empty"),
    ],
)
def test_a_kept_listing_that_does_not_verify_is_never_used(env, runs, tmp_path, damage):
    python, _ = env
    keep = tmp_path / "keep"
    listed(python, keep)
    (kept,) = keep.glob("environment-*.json")
    kept.write_bytes(damage(kept.read_bytes()))
    listing = listed(python, keep)
    assert names(listing) == [("alpha", "1.0"), ("beta", "2.0")]
    assert len(runs) == 2
    dependencies.list_environment(python, keep=keep)  # and rewritten whole
    assert len(runs) == 2


def test_without_a_place_to_keep_it_every_session_lists(env, runs):
    python, _ = env
    dependencies.list_environment(python)
    dependencies.list_environment(python)
    assert len(runs) == 2


def test_a_listing_made_right_after_a_change_is_not_reused(env, runs, tmp_path):
    # git's "racy clean" rule: a change within a timestamp's granularity before the listing
    # could hide a second change in the same timestamp, so such a listing is asked again.
    python, site = env
    keep = tmp_path / "keep"
    _install(site)  # just now: the site directory's times are this instant
    dependencies.list_environment(python, keep=keep)
    dependencies.list_environment(python, keep=keep)
    assert len(runs) == 2
    listed(python, keep)  # the same listing, made 10 s later than the change
    dependencies.list_environment(python, keep=keep)
    assert len(runs) == 3


def test_an_edit_that_restores_the_modification_time_lists_again(env, runs, tmp_path):
    # The change time cannot be set back: restoring mtime and size does not hide an edit.
    python, site = env
    keep = tmp_path / "keep"
    listed(python, keep)
    metadata = site / "beta-2.0.dist-info" / "METADATA"
    before = metadata.stat()
    metadata.write_text(metadata.read_text().replace("Version: 2.0", "Version: 2.9"))
    os.utime(metadata, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert metadata.stat().st_size == before.st_size
    assert ("beta", "2.9") in names(dependencies.list_environment(python, keep=keep))
    assert len(runs) == 2
