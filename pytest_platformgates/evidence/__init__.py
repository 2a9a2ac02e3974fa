"""The evidence bundle: one writer per format, read by auditors and by ``platformgates verify``.

Each writer (``sarif``, ``statement``, ``dsse``, ``html``, ``metrics``,
``manifest``) turns the gates' results, the effective policy and the facts of the
run into one file; ``bundle`` assembles and publishes them atomically;
``session`` is the plugin that gathers the inputs during a pytest session;
``verify`` checks a published bundle. See ``docs/evidence.md``.
"""
