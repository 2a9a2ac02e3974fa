"""Root conftest: pytester drives every plugin-level test (real inner pytest runs)."""

pytest_plugins = ("pytester",)
