"""Who ran what, where: the git state, the CI identity and the software of a run.

Only named variables are read from the environment (an allowlist), never the whole
of it: CI environments hold tokens, and nothing here may carry one into evidence.
"""

from __future__ import annotations

import concurrent.futures
import getpass
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ..process import run_captured

# Variables that identify a CI run, per provider. Values are identities and links,
# never credentials (GITHUB_TOKEN, CI_JOB_TOKEN … are deliberately absent).
CI_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "github": (
        "GITHUB_ACTOR",
        "GITHUB_TRIGGERING_ACTOR",
        "GITHUB_REPOSITORY",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_NUMBER",
        "GITHUB_RUN_ATTEMPT",
        "GITHUB_WORKFLOW",
        "GITHUB_JOB",
        "GITHUB_EVENT_NAME",
        "GITHUB_REF",
        "GITHUB_SHA",
        "GITHUB_SERVER_URL",
        "RUNNER_NAME",
        "RUNNER_OS",
    ),
    "gitlab": (
        "GITLAB_USER_LOGIN",
        "CI_PROJECT_PATH",
        "CI_PIPELINE_ID",
        "CI_PIPELINE_SOURCE",
        "CI_JOB_ID",
        "CI_JOB_NAME",
        "CI_JOB_URL",
        "CI_COMMIT_SHA",
        "CI_COMMIT_REF_NAME",
        "CI_SERVER_URL",
        "CI_RUNNER_ID",
        "CI_RUNNER_DESCRIPTION",
    ),
    "buildkite": (
        "BUILDKITE_BUILD_CREATOR",
        "BUILDKITE_PIPELINE_SLUG",
        "BUILDKITE_BUILD_ID",
        "BUILDKITE_BUILD_URL",
        "BUILDKITE_JOB_ID",
        "BUILDKITE_COMMIT",
        "BUILDKITE_BRANCH",
        "BUILDKITE_AGENT_NAME",
    ),
}
_PROVIDER_FLAG = {"github": "GITHUB_ACTIONS", "gitlab": "GITLAB_CI", "buildkite": "BUILDKITE"}
# How many changed or untracked paths the evidence names (the counts are always complete).
LISTED_PATHS = 20


@dataclass(frozen=True)
class GitState:
    """The commit a run tested and whether the working tree matched it."""

    commit: str | None
    branch: str | None
    dirty: bool
    changed: tuple[str, ...] = ()
    untracked: tuple[str, ...] = ()
    problem: str = ""
    # The project's directory inside the repository ("" at its top): findings' paths are
    # relative to the project, SARIF's to the repository (code scanning's root).
    prefix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "branch": self.branch,
            "dirty": self.dirty,
            "changed_count": len(self.changed),
            "changed": list(self.changed[:LISTED_PATHS]),
            "untracked_count": len(self.untracked),
            "untracked": list(self.untracked[:LISTED_PATHS]),
            "problem": self.problem,
            "prefix": self.prefix,
        }


def _git(root: Path, *args: str) -> str:
    proc = run_captured(
        ["git", *args], cwd=root, timeout=60, env={"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    )
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        raise subprocess.CalledProcessError(proc.returncode, proc.args, stderr=stderr)
    # A path or branch name that is not UTF-8 keeps its bytes, as the inventory keeps
    # them (the writers encode them, run.utf8); strict decoding was a traceback.
    return proc.stdout.decode("utf-8", "surrogateescape")


def git_state(root: Path, ignore: tuple[Path, ...] = ()) -> GitState:
    """Read HEAD, the branch and the tree's cleanliness; ``ignore`` holds our own output."""
    # Two git processes side by side instead of four one after another: this runs at
    # the start of every session. Porcelain status paths are relative to the top level
    # whatever the working directory, so it need not wait for rev-parse.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        status = pool.submit(_git, root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
        try:
            # `--` ends the revisions: a file named HEAD is not asked about.
            head = _git(
                root, "rev-parse", "--show-toplevel", "HEAD^{commit}", "--abbrev-ref", "HEAD", "--"
            )
            top_line, commit, branch = head.splitlines()[:3]
            top = Path(top_line)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            problem = getattr(exc, "stderr", "") or str(exc)
            return GitState(None, None, True, problem=f"no git commit: {problem.strip()}")
        out = status.result()
    if branch == "HEAD":  # detached, as in most CI checkouts: ask the CI
        branch = (
            os.environ.get("GITHUB_HEAD_REF")
            or os.environ.get("GITHUB_REF_NAME")
            or os.environ.get("CI_COMMIT_REF_NAME")
            or os.environ.get("BUILDKITE_BRANCH")
            or None
        )
    skip = []
    for path in ignore:
        try:
            skip.append(path.resolve().relative_to(top.resolve()).as_posix())
        except ValueError:
            continue
    changed: list[str] = []
    untracked: list[str] = []
    entries = iter(out.split("\0"))
    for entry in entries:
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":
            next(entries, None)  # the rename's source path
        if any(path == s or path.startswith(s.rstrip("/") + "/") for s in skip):
            continue
        (untracked if code == "??" else changed).append(path)
    try:
        prefix = root.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        prefix = ""
    return GitState(
        commit=commit,
        branch=branch,
        dirty=bool(changed),
        changed=tuple(sorted(changed)),
        untracked=tuple(sorted(untracked)),
        prefix="" if prefix == "." else prefix,
    )


def ci_identity(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The CI provider and its run identity, or the local user and host outside CI."""
    env = os.environ if environ is None else environ
    for provider, names in CI_VARIABLES.items():
        if env.get(_PROVIDER_FLAG[provider]):
            return {
                "ci": True,
                "provider": provider,
                "variables": {n: env[n] for n in names if env.get(n)},
            }
    ci = env.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return {
        "ci": ci,
        "provider": "generic" if ci else "local",
        "variables": {},
        "user": user,
        "host": socket.gethostname(),
    }


def software() -> dict[str, Any]:
    """Interpreter, platform and the versions of the packages that judged the run."""
    packages = {}
    for name in ("pytest-platformgates", "pytest", "pluggy", "pytest-xdist", "pytest-cov"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "packages": packages,
    }


@dataclass(frozen=True)
class RunFacts:
    """Everything about a run that is not a gate's result."""

    git: GitState
    identity: Mapping[str, Any]
    software: Mapping[str, Any]
    started: str
    finished: str
    exit_status: int
    invocation: tuple[str, ...] = ()
    tests: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # --gates-changed: what the partial scan covered (session.partial_record); None when
    # every gate saw every file.
    partial: Mapping[str, Any] | None = None
