"""The environment listing kept between sessions: reused only while nothing it read changed."""

from __future__ import annotations

import os
import shutil

import pytest

from pytest_platformgates import dependencies
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


def test_a_second_session_reuses_the_listing_without_starting_the_interpreter(env, runs, tmp_path):
    python, _ = env
    keep = tmp_path / "keep"
    first = dependencies.list_environment(python, keep=keep)
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
    text = metadata.read_text().replace("Version: 2.0", "Version: 2.1")
    stat = metadata.stat()
    metadata.write_text(text)
    # Even the same size and mtime: the inode stays, so only content could tell. Move the
    # mtime forward as any real write a tick later would.
    os.utime(metadata, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


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
    dependencies.list_environment(python, keep=keep)
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
    assert ("delta", "4.0") not in names(dependencies.list_environment(python, keep=keep))
    pth.write_text(str(extra) + "\n")  # site-packages itself is not touched
    assert ("delta", "4.0") in names(dependencies.list_environment(python, keep=keep))
    assert len(runs) == 2


def test_pythonpath_is_part_of_the_key(env, runs, tmp_path, monkeypatch):
    python, _ = env
    extra = tmp_path / "extra"
    add_dist(extra, dist("delta", "4.0"))
    keep = tmp_path / "keep"
    dependencies.list_environment(python, keep=keep)
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
    dependencies.list_environment(python, keep=keep)
    (kept,) = keep.glob("environment-*.json")
    kept.write_bytes(damage(kept.read_bytes()))
    listing = dependencies.list_environment(python, keep=keep)
    assert names(listing) == [("alpha", "1.0"), ("beta", "2.0")]
    assert len(runs) == 2
    dependencies.list_environment(python, keep=keep)  # and rewritten whole
    assert len(runs) == 2


def test_without_a_place_to_keep_it_every_session_lists(env, runs):
    python, _ = env
    dependencies.list_environment(python)
    dependencies.list_environment(python)
    assert len(runs) == 2
