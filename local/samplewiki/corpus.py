"""A deterministic, invented encyclopedia for the sample wiki: pages, extracts, images and a link graph.

Every sentence is assembled from templates and word lists (`texts.py`) by a seeded generator (`generator.py`),
so the corpus is free of third-party text and the same seed always yields the same pages, ids, links and
timestamps. The link graph is shaped on purpose: one hub with more backlinks than a single `bllimit=max` page
can hold, a few medium hubs, a long tail of pages that nobody links to, and an article reached through
redirects (with a double redirect, which MediaWiki does not follow).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_SEED = 2017
FIRST_PAGEID = 1000

HUB_TITLE = "Earth"
HUB_BACKLINKS = 640
MEDIUM_HUB_TITLES = ("River", "Music", "Computing")
REDIRECTS = {"Zurich": "Zürich"}
ROLL_TITLE = "Rock & roll"
# Redirects with pages linking through them; "Rock-and-roll" redirects to a redirect, which MediaWiki (and so
# `blredirect`) does not follow: the page linking to it is not a backlink of "Rock & roll".
LINKED_REDIRECTS = {"Rock and roll": ROLL_TITLE, "Rock 'n' roll": ROLL_TITLE, "Rock-and-roll": "Rock and roll"}
# A title that reads as markup (wiki italics and an HTML entity without its semicolon, which MediaWiki keeps
# as typed), on a page with no intro and no image: a UI must show the title as text and draw nothing else.
MARKUP_TITLE = "''Quiet'' &amp co."
INJECTION_TITLE = "Script injection"
INJECTION_MARKUP = '<script>alert("xss")</script><img src=x onerror=alert(1)>'

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Image:
    """A file a page shows as its lead image; `name` is the file name with underscores, as MediaWiki spells it."""

    name: str
    width: int
    height: int

    @property
    def hash_path(self) -> str:
        """The `a/ab` directory pair MediaWiki derives from the MD5 of the file name."""
        digest = hashlib.md5(self.name.encode(), usedforsecurity=False).hexdigest()
        return f"{digest[0]}/{digest[:2]}"


@dataclass(frozen=True, slots=True)
class Page:
    """One page in namespace 0; a redirect has `redirect_to` set and links only to its target."""

    pageid: int
    title: str
    theme: str
    extract: str
    body: str
    links: tuple[int, ...]
    image: Image | None
    lastrevid: int
    touched: str
    length: int
    redirect_to: str | None = None

    @property
    def ns(self) -> int:
        """Namespace; the sample wiki only has articles."""
        return 0

    @property
    def is_redirect(self) -> bool:
        """Whether this page is a redirect to another title."""
        return self.redirect_to is not None

    @property
    def is_new(self) -> bool:
        """Whether the page has a single revision, which `prop=info` flags as `new`."""
        # Derived from the title rather than drawn from the seeded stream, so adding it moved no other value.
        return zlib.crc32(self.title.encode()) % 8 == 0

    @property
    def full_text(self) -> str:
        """The plain text of the whole article: the intro followed by its sections."""
        return self.extract + self.body


@dataclass(frozen=True)
class Corpus:
    """All pages of the sample wiki with lookups by id and title, backlinks and a small search engine."""

    seed: int
    pages: tuple[Page, ...]
    _by_id: dict[int, Page] = field(init=False, repr=False, compare=False)
    _by_title: dict[str, Page] = field(init=False, repr=False, compare=False)
    _backlinks: dict[int, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    _aliases: dict[int, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _title_words: dict[int, frozenset[str]] = field(init=False, repr=False, compare=False)
    _text_words: dict[int, Counter[str]] = field(init=False, repr=False, compare=False)
    _images: dict[str, Image] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Build the indexes once; the corpus is immutable afterwards, so server threads share it freely."""
        backlinks: dict[int, list[int]] = {}
        for page in self.pages:
            for target in page.links:
                backlinks.setdefault(target, []).append(page.pageid)
        by_title = {p.title: p for p in self.pages}
        # A redirect's title is another name of its target: CirrusSearch matches it as a title of the target.
        aliases: dict[int, list[str]] = {}
        for page in self.pages:
            destination = by_title.get(page.redirect_to) if page.redirect_to is not None else None
            if destination is not None:
                aliases.setdefault(destination.pageid, []).append(page.title)
        title_words = {
            p.pageid: frozenset(words(p.title)).union(*map(words, aliases.get(p.pageid, ()))) for p in self.pages
        }
        object.__setattr__(self, "_by_id", {p.pageid: p for p in self.pages})
        object.__setattr__(self, "_by_title", by_title)
        object.__setattr__(self, "_backlinks", {k: tuple(sorted(v)) for k, v in backlinks.items()})
        object.__setattr__(self, "_aliases", {k: tuple(v) for k, v in aliases.items()})
        object.__setattr__(self, "_title_words", title_words)
        object.__setattr__(self, "_text_words", {p.pageid: Counter(words(p.full_text)) for p in self.pages})
        object.__setattr__(self, "_images", {p.image.name: p.image for p in self.pages if p.image is not None})

    def by_id(self, pageid: int) -> Page | None:
        """The page with this id, or None."""
        return self._by_id.get(pageid)

    def by_title(self, title: str) -> Page | None:
        """The page with exactly this (normalized) title, redirects included, or None."""
        return self._by_title.get(title)

    def resolve(self, title: str) -> Page | None:
        """The article a title leads to, following a redirect."""
        page = self.by_title(title)
        if page is not None and page.redirect_to is not None:
            return self.by_title(page.redirect_to)
        return page

    @property
    def articles(self) -> tuple[Page, ...]:
        """Every page that is not a redirect, by pageid."""
        return tuple(p for p in self.pages if not p.is_redirect)

    @property
    def redirects(self) -> tuple[Page, ...]:
        """Every redirect page, by pageid."""
        return tuple(p for p in self.pages if p.is_redirect)

    @property
    def hub(self) -> Page:
        """The most linked page: more backlinks than one `bllimit=max` response can carry."""
        return self._required(HUB_TITLE)

    @property
    def medium_hubs(self) -> tuple[Page, ...]:
        """Pages with tens to a hundred or so backlinks."""
        return tuple(self._required(t) for t in MEDIUM_HUB_TITLES)

    def backlinks_of(self, pageid: int) -> list[Page]:
        """The pages linking to `pageid` (redirects to it included), sorted by pageid like `list=backlinks`."""
        return [self._by_id[i] for i in self._backlinks.get(pageid, ())]

    def redirects_to(self, pageid: int) -> list[Page]:
        """The redirects whose target is `pageid`, sorted by pageid."""
        return [p for p in self.backlinks_of(pageid) if p.is_redirect and p.redirect_to == self._by_id[pageid].title]

    def what_links_here(self, pageid: int) -> list[Page]:
        """The articles linking to `pageid` directly or through a redirect to it, each once, sorted by pageid.

        This is what MediaWiki's "What links here" and `list=backlinks&blredirect=1` show: one level of
        redirects is followed, and the redirect pages themselves are left out.
        """
        found = {p.pageid: p for p in self.backlinks_of(pageid) if not p.is_redirect}
        for redirect in self.redirects_to(pageid):
            found.update((p.pageid, p) for p in self.backlinks_of(redirect.pageid) if not p.is_redirect)
        return [found[i] for i in sorted(found)]

    def search(self, term: str) -> list[Page]:
        """Articles containing every word of `term`, best first.

        Ranking: an exact title match (the title of the article or of a redirect to it), then titles holding
        every word, then how often the words occur in the text, then the longer article, then pageid; matching
        ignores case and accents, and redirects count as titles of their targets, as CirrusSearch does.
        """
        wanted = words(term)
        if not wanted:
            return []
        folded_term = " ".join(wanted)
        hits: list[tuple[tuple[int, int, int, int, int], Page]] = []
        for page in self.pages:
            if page.is_redirect:
                continue
            title_words = self._title_words[page.pageid]
            text_words = self._text_words[page.pageid]
            if not all(w in title_words or w in text_words for w in wanted):
                continue
            names = (page.title, *self._aliases.get(page.pageid, ()))
            exact = any(" ".join(words(name)) == folded_term for name in names)
            in_title = all(w in title_words for w in wanted)
            occurrences = sum(text_words[w] for w in wanted)
            # Longer articles win ties, so ranks do not simply follow pageids (clients must sort by index).
            hits.append(((0 if exact else 1, 0 if in_title else 1, -occurrences, -page.length, page.pageid), page))
        hits.sort(key=lambda hit: hit[0])
        return [page for _, page in hits]

    def database_search(self, term: str) -> list[Page]:
        """Pages whose wikitext holds every word of `term`, in title order, as MediaWiki's default search.

        MediaWiki without CirrusSearch (SearchSqlite, SearchMySQL) matches `srwhat=text` against each page's
        wikitext and ranks nothing: the real 1.39 fixture answers in title order, by the bytes of the database
        key. Redirect pages match too, through the target named in their `#REDIRECT [[...]]`.
        """
        wanted = words(term)
        if not wanted:
            return []
        hits = [p for p in self.pages if all(w in self._wikitext_words(p) for w in wanted)]
        return sorted(hits, key=lambda p: p.title.replace(" ", "_").encode())

    def _wikitext_words(self, page: Page) -> frozenset[str] | Counter[str]:
        if page.redirect_to is not None:
            return frozenset(words(f"REDIRECT {page.redirect_to}"))
        return self._text_words[page.pageid]

    @property
    def images(self) -> Mapping[str, Image]:
        """Every lead image by file name."""
        return self._images

    def _required(self, title: str) -> Page:
        page = self.by_title(title)
        if page is None:  # pragma: no cover - the generator always creates these titles
            raise KeyError(title)
        return page


def fold(text: str) -> str:
    """Lowercase `text` and strip accents, so "Zürich" and "zurich" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    return _WORD.findall(fold(text))
