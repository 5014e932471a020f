"""The engine's fixtures (the fixture site, Chromium and `replay`), for replaying imported scripts."""

from tests.engine.conftest import replay  # noqa: F401  (a fixture)
