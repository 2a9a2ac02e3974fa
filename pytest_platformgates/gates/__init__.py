"""The built-in gates, one module each, registered like any third-party gate."""

BUILTIN: tuple[str, ...] = ("pytest_platformgates.gates.lint",)
