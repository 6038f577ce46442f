"""The backlinks listing behind `WikiClient.backlinks`: "What links here", through redirects, 500 a request.

`list=backlinks&blredirect=1` would list it in one module, but halves `bllimit=max` to 250. This lists the direct
links (`list=backlinks`) beside the redirects to the page (`prop=redirects`), then beside the articles linking
to those redirects, 50 redirects at a time (`generator=linkshere`), less the ones that also link to the page
directly (`prop=links&pltitles=`), which the direct listing has. A resume token holds each listing's place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Values a multi-value parameter (pageids, titles) may carry from a client without the apihighlimits right.
MAX_IDS_PER_REQUEST = 50
# Keys of ours in a backlinks resume token, beside the wiki's continue parameters; never sent to the wiki.
_DIRECT_KEY = "wikiroam.direct"
_REDIRECTS_KEY = "wikiroam.redirects"
_TARGET_KEY = "wikiroam.target"
_GROUP_KEY = "wikiroam.group"

# Sends one api.php query of a kind (`"backlinks"`) and answers its JSON: `WikiClient`'s, retries included.
Query = Callable[[str, Mapping[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class Backlink:
    """A page that links to another."""

    pageid: int
    title: str


@dataclass(frozen=True)
class BacklinkBatch:
    """One response's worth of backlinks and the token that resumes after it (None at the end)."""

    backlinks: tuple[Backlink, ...]
    resume: Mapping[str, str] | None


def is_article(raw: Mapping[str, Any]) -> bool:
    """Whether a page of an answer is an existing article (namespace 0)."""
    return not raw.get("missing") and not raw.get("invalid") and "pageid" in raw and raw.get("ns", 0) == 0


class BacklinksListing:
    """Lists a page's backlinks through `query`, `limit` (a number or "max") per listing and request."""

    def __init__(self, query: Query, *, limit: int | str) -> None:
        self._query = query
        self._limit = limit

    def batches(self, pageid: int, resume: Mapping[str, str] | None) -> Iterator[BacklinkBatch]:
        """The backlinks of `pageid`, a batch a response, from the start or from a resume token."""
        state = _BacklinksState.from_token(resume or {})
        seen: set[int] = set()
        if state.group is not None and (state.group > 0 or state.through):
            # An article linking through two redirects counts once: rebuild what was listed before the stop.
            seen = self._replay_through(state, state.group)
        while not state.finished:
            data = self._query("backlinks", self._params(pageid, state))
            query, wiki_continue = data.get("query", {}), _continue_of(data)
            links: list[Backlink] = []
            if state.direct is not None:
                links.extend(
                    Backlink(pageid=int(raw["pageid"]), title=str(raw["title"])) for raw in query.get("backlinks", [])
                )
                state.direct = _module_part(wiki_continue, "bl") or None
            if state.listing is not None:
                state.note_redirects(query, pageid, wiki_continue)
            elif state.group is not None:
                links.extend(_through_links(query, seen))
                state.note_through(wiki_continue)
            yield BacklinkBatch(backlinks=tuple(links), resume=None if state.finished else state.token())

    def _params(self, pageid: int, state: _BacklinksState) -> dict[str, str]:
        """One request for every listing still going, each with its own module's continue parameters.

        The listings start and end at different times, so each request names only the modules still going
        instead of echoing the wiki's whole `continue` object, whose `continue` key only says which to skip.
        """
        params: dict[str, str] = {}
        if state.direct is not None:
            params.update(self._direct_params(pageid), **state.direct)
        if state.listing is not None:
            params.update(self._redirects_params(pageid), **state.listing)
        elif state.group is not None and state.group < len(state.groups()):
            params.update(self._through_params(state, state.group), **state.through)
        return params

    def _direct_params(self, pageid: int) -> dict[str, str]:
        return {
            "list": "backlinks",
            "blpageid": str(pageid),
            "blnamespace": "0",
            "blfilterredir": "nonredirects",
            "bllimit": str(self._limit),
        }

    def _redirects_params(self, pageid: int) -> dict[str, str]:
        # The page itself comes back too: its title is what the links through redirects are checked against.
        return {"pageids": str(pageid), "prop": "redirects", "rdprop": "pageid", "rdnamespace": "0", "rdlimit": "max"}

    def _through_params(self, state: _BacklinksState, group: int) -> dict[str, str]:
        return {
            "generator": "linkshere",
            "pageids": "|".join(state.groups()[group]),
            "glhnamespace": "0",
            "glhshow": "!redirect",
            "glhlimit": str(self._limit),
            # At most one link per page, so "max" never leaves links for a continuation.
            "prop": "links",
            "pltitles": state.title or "",
            "pllimit": "max",
        }

    def _replay_through(self, state: _BacklinksState, stopped_in: int) -> set[int]:
        """The articles listed through redirects before `state`, asked for again (the direct listing is not)."""
        seen: set[int] = set()
        for group in range(min(stopped_in + 1, len(state.groups()))):
            through: dict[str, str] = {}
            while group < stopped_in or through != state.through:
                data = self._query("backlinks", {**self._through_params(state, group), **through})
                _through_links(data.get("query", {}), seen)
                through = _module_part(_continue_of(data), "glh")
                if not through:
                    break
        return seen


def _continue_of(data: Mapping[str, Any]) -> dict[str, str]:
    """The answer's `continue` object as strings; empty at the end."""
    raw = data.get("continue")
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


@dataclass
class _BacklinksState:
    """How far a listing got; `token()` and `from_token()` turn it into a resume token and back.

    A token holds the wiki's own continue parameters of each listing (`bl…`, `rd…`, `glh…`) and keys of ours
    (`wikiroam.…`). A token from before links through redirects were followed (`blcontinue` and `continue`)
    resumes the direct listing and lists the redirects from the start.
    """

    direct: dict[str, str] | None  # where the direct listing resumes; None once it is done
    listing: dict[str, str] | None  # where the listing of redirects resumes; None once it is done
    group: int | None  # the group of redirects whose links are being listed; None until they are known
    through: dict[str, str]  # where the current group's listing resumes
    title: str | None
    redirects: list[str]

    @classmethod
    def from_token(cls, token: Mapping[str, str]) -> _BacklinksState:
        group = token.get(_GROUP_KEY)
        return cls(
            direct=None if token.get(_DIRECT_KEY) == "done" else _module_part(token, "bl"),
            listing=None if group is not None else _module_part(token, "rd"),
            group=int(group) if group is not None else None,
            through=_module_part(token, "glh"),
            title=token.get(_TARGET_KEY),
            redirects=[r for r in token.get(_REDIRECTS_KEY, "").split("|") if r],
        )

    def note_redirects(self, query: Mapping[str, Any], pageid: int, wiki_continue: Mapping[str, str]) -> None:
        """Take the page's title and redirects from an answer to the listing of redirects."""
        for page in query.get("pages", []):
            if page.get("pageid") == pageid:
                self.title = self.title or str(page["title"])
                self.redirects.extend(str(int(r["pageid"])) for r in page.get("redirects", []))
        self.listing = _module_part(wiki_continue, "rd") or None
        if self.listing is None:
            self.group = 0
            if self.title is None:
                # The wiki did not name the page (it is gone): nothing to check links through redirects by.
                self.redirects.clear()

    def note_through(self, wiki_continue: Mapping[str, str]) -> None:
        """Move on after an answer to the listing of links through the current group of redirects."""
        self.through = _module_part(wiki_continue, "glh")
        if not self.through and self.group is not None:
            self.group += 1

    @property
    def finished(self) -> bool:
        """Nothing is left to list."""
        through_done = self.group is None or self.group >= len(self.groups())
        return self.direct is None and self.listing is None and through_done

    def groups(self) -> list[list[str]]:
        """The redirects in groups as large as one request may name."""
        return [self.redirects[i : i + MAX_IDS_PER_REQUEST] for i in range(0, len(self.redirects), MAX_IDS_PER_REQUEST)]

    def token(self) -> dict[str, str]:
        """The resume token for this state."""
        token = {**(self.direct or {}), **(self.listing or {}), **self.through}
        if self.direct is None:
            token[_DIRECT_KEY] = "done"
        if self.title is not None:
            token[_TARGET_KEY] = self.title
        if self.redirects:
            token[_REDIRECTS_KEY] = "|".join(self.redirects)
        if self.group is not None:
            token[_GROUP_KEY] = str(self.group)
        return token


def _through_links(query: Mapping[str, Any], seen: set[int]) -> list[Backlink]:
    """The articles of a `generator=linkshere` answer that link to the page only through its redirects, once."""
    links: list[Backlink] = []
    for raw in query.get("pages", []):
        # A page with `links` links to the page itself too: the direct listing has it.
        if not is_article(raw) or raw.get("links") or int(raw["pageid"]) in seen:
            continue
        seen.add(int(raw["pageid"]))
        links.append(Backlink(pageid=int(raw["pageid"]), title=str(raw["title"])))
    return links


def _module_part(params: Mapping[str, str], prefix: str) -> dict[str, str]:
    """One module's continue parameters (`blcontinue`, `rdcontinue`, `glhcontinue`) out of a continue object."""
    return {k: v for k, v in params.items() if k.startswith(prefix) and k.endswith("continue")}
