"""ACME's platform policy for pytest-platformgates, as package data.

A project extends it from its ``pyproject.toml``::

    [tool.platformgates]
    extends = ["pkg:acme_platform_policy/python-service.toml"]

The policy sets the organisation's thresholds and the guardrails that keep projects from
loosening them; projects add their own settings on top and may only tighten these.
"""

POLICY = "pkg:acme_platform_policy/python-service.toml"
