"""Fixtures for integration tests that run against real local services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.local_aws import local_aws  # noqa: F401 (a fixture of the integration tests)
from tests.support.mediawiki import (
    INSTALL_HINT,
    SEED_PAGES,
    LocalMediaWiki,
    mediawiki_version,
    missing_system_deps,
)

_STARTED_WIKI = pytest.StashKey[LocalMediaWiki]()


@pytest.fixture(scope="session")
def mediawiki(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMediaWiki]:
    """Serve a real MediaWiki seeded with ``SEED_PAGES`` for the whole test session."""
    missing = missing_system_deps()
    if missing:
        # Failing rather than skipping keeps CI honest: a machine without MediaWiki is misconfigured.
        pytest.fail(f"the real-MediaWiki tests need {', '.join(missing)}; {INSTALL_HINT}", pytrace=False)
    wiki = LocalMediaWiki(tmp_path_factory.mktemp("mediawiki"), SEED_PAGES)
    wiki.start()
    request.config.stash[_STARTED_WIKI] = wiki
    try:
        yield wiki
    finally:
        wiki.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the real wiki, so ``-m "not mediawiki"`` leaves them all out."""
    # tryfirst: the marks must be in place before pytest's own -m deselection runs.
    for item in items:
        if "mediawiki" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mediawiki)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Say how long the real wiki took to start, and whether it came from the cache."""
    wiki = config.stash.get(_STARTED_WIKI, None)
    if wiki is None or wiki.start_seconds is None:
        return
    origin = "copied from the cache" if wiki.cache_hit else "built, then cached"
    terminalreporter.write_line(
        f"local MediaWiki {mediawiki_version()}: started in {wiki.start_seconds:.1f}s ({origin}; "
        f"cache at {wiki.cache_dir})"
    )
