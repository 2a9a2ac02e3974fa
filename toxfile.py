"""tox's inline plugin: find every Python pyenv installed, not only the selected one.

pyenv's shims answer only for the versions `pyenv global` (or `PYENV_VERSION`) selects,
so tox would not find `python3.10` on a machine that has it and, told to skip missing
interpreters, would pass without running that version at all. The interpreters under
``$PYENV_ROOT/versions`` are handed to tox's discovery (as ``--discover`` would), after
any the command line names.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tox.plugin import impl

MIN_MINOR = 10  # requires-python = ">=3.10"


def pyenv_interpreters(root: Path) -> list[str]:
    """The ``python3.N`` executables (N >= 10) of every version pyenv installed under root."""
    found = []
    for exe in sorted(root.glob("versions/*/bin/python3.*")):
        match = re.fullmatch(r"python3\.(\d+)", exe.name)
        if match and int(match.group(1)) >= MIN_MINOR and os.access(exe, os.X_OK):
            found.append(str(exe))
    return found


@impl
def tox_add_core_config(core_conf: Any, state: Any) -> None:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    options = state.conf.options
    given = list(getattr(options, "discover", None) or [])
    options.discover = given + [p for p in pyenv_interpreters(root) if p not in given]
