"""What an action=query module works with: the site, the parameters, the page set, and the result it fills."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.samplewiki.corpus import Page
from local.samplewiki.params import Params
from local.samplewiki.site import Site

# A module's continuation parameters, or None when it is done.
Continuation = dict[str, Any] | None
# Pages with what a generator says about each (a search rank, say).
Ranked = list[tuple[Page, dict[str, Any]]]


@dataclass
class PageSet:
    """The pages a query works on, with the notes MediaWiki reports about them."""

    keyed: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    good: list[tuple[Page, dict[str, Any]]] = field(default_factory=list)
    missing_titles: list[dict[str, Any]] = field(default_factory=list)
    normalized: list[dict[str, Any]] = field(default_factory=list)
    redirects: list[dict[str, str]] = field(default_factory=list)

    @property
    def entries(self) -> list[dict[str, Any]]:
        """Pages in MediaWiki's output order."""
        # ApiQuery sorts by key: pageids for found pages and missing ids, negative stand-ins for missing or
        # invalid titles, which therefore come first.
        return [entry for _, entry in sorted(self.keyed, key=lambda item: item[0])]


@dataclass
class Query:
    """Everything an action=query module needs while it runs."""

    site: Site
    params: Params
    pageset: PageSet
    result: dict[str, Any]


# A prop or list module: fills the query with what it lists, starting at the prefixed parameters.
Module = Callable[[Query, str], Continuation]
# A generator: the pages it makes the page set of, and where it continues.
Generator = Callable[[Query, str], tuple[Ranked, Continuation]]
