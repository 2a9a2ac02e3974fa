"""The built-in gates, one module each, registered like any third-party gate."""

# One line per gate module, in no particular order: the core sorts gates by name.
BUILTIN: tuple[str, ...] = (
    "pytest_platformgates.gates.lint",
    "pytest_platformgates.gates.coverage",
    "pytest_platformgates.gates.deps",
    "pytest_platformgates.gates.sast",
    "pytest_platformgates.gates.pinning",
    "pytest_platformgates.gates.licenses",
    "pytest_platformgates.gates.sbom",
    "pytest_platformgates.gates.secrets",
    "pytest_platformgates.gates.commits",
)

# Modules whose gates are declared in configuration (``kind = ...`` tables), so that
# no gate carries the module's name; registered like the built-ins.
DECLARED: tuple[str, ...] = ("pytest_platformgates.gates.external",)
