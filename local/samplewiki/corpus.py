"""A deterministic, invented encyclopedia for the sample wiki: pages, extracts, images and a link graph.

Every sentence is assembled from templates and word lists in this file, so the corpus is free of third-party
text and the same seed always yields the same pages, ids, links and timestamps. The link graph is shaped on
purpose: one hub with more backlinks than a single `bllimit=max` page can hold, a few medium hubs, a long
tail of pages that nobody links to, and an article reached through redirects (with a double redirect, which
MediaWiki does not follow).
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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


# --- Word lists -------------------------------------------------------------------------------------------

_SYLLABLES = (
    "va", "ren", "tor", "mi", "sel", "ka", "dor", "lin", "bra", "fe", "no", "quel", "ash", "um", "ti", "gro",
    "vel", "mar", "os", "than", "ri", "ku", "bel", "cas", "dra", "en", "hol", "ix", "jor", "lu", "mo", "per",
    "sa", "ter", "ul", "wen", "yar", "zo", "ber", "cal", "fen", "gar", "har", "is", "lor", "nel", "or", "ston",
)  # fmt: skip
_ACCENTS = {"o": "ö", "a": "å", "u": "ü", "e": "é"}
_REGIONS = (
    "the Orvane Highlands", "the Selmar Basin", "Northern Kaldria", "the Isles of Ferrow", "the Tavish Coast",
    "the Brenmoor Plateau", "Upper Vell", "the Quarn Lowlands", "the Astel Marches", "Southern Kaldria",
)  # fmt: skip
_PEOPLE_FIRST = ("Ada", "Tomas", "Ines", "Oskar", "Lena", "Piet", "Maren", "Ilya", "Sunniva", "Emeric", "Odile")
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh")
_COLOURS = ("crimson", "pale blue", "amber", "silver", "deep green", "rust-brown", "violet")


@dataclass(frozen=True)
class _Kind:
    """One kind of page in a theme: how its title is made and how its first sentence reads."""

    pattern: str
    opening: str


@dataclass(frozen=True)
class _Theme:
    """A vocabulary family: page kinds, follow-up sentences, section names and the theme's medium hub."""

    name: str
    count: int
    kinds: tuple[_Kind, ...]
    sentences: tuple[str, ...]
    sections: tuple[str, ...]
    adjectives: tuple[str, ...]
    hub: str | None = None


_THEMES: tuple[_Theme, ...] = (
    _Theme(
        name="rivers",
        count=110,
        kinds=(
            _Kind(
                "{Name} River",
                "The {title} is a {adj} river in {region}, running {n} kilometres from its source in the "
                "hills to the sea.",
            ),
        ),
        sentences=(
            "Its basin covers about {big} square kilometres and feeds a string of lakes along the valley floor.",
            "The river is joined by the {other} near the market town of {town}.",
            "Fishermen on the river still use flat-bottomed boats of a design first recorded in {year}.",
            "Spring floods reshape the delta, where the river splits into {k} channels.",
            "A towpath follows the western bank for most of its course, and old stone bridges cross the river.",
            "Otters and kingfishers returned to the valley after the mills upstream closed in {year}.",
        ),
        sections=("Course", "Tributaries", "History"),
        adjectives=("slow", "braided", "glacial", "meandering", "narrow", "navigable", "seasonal"),
        hub="River",
    ),
    _Theme(
        name="towns",
        count=90,
        kinds=(
            _Kind("{Name}", "{title} is a {adj} town in {region} with a population of about {big}."),
            _Kind("{Name}haven", "{title} is a {adj} harbour town on the coast of {region}."),
            _Kind("{Name}burg", "{title} is a {adj} walled town in {region}, founded around a hilltop keep."),
        ),
        sentences=(
            "It grew around a ford on the {river} and received a market charter in {year}.",
            "The old quarter is known for its arcades and a clock tower that runs {k} minutes slow.",
            "Local industry once centred on weaving, and the town still hosts an autumn wool fair.",
            "{title} is twinned with {other}.",
            "A narrow-gauge railway linked the town to the coast until {year}.",
        ),
        sections=("Geography", "History", "Economy"),
        adjectives=("quiet", "busy", "hillside", "riverside", "fortified", "medieval", "growing"),
    ),
    _Theme(
        name="music",
        count=100,
        kinds=(
            _Kind("The {Adj} {Things}", "{title} are a {adj} band formed in {town} in {year}."),
            _Kind("{Adj} {Thing} (album)", "{label} is the {ordinal} studio album by {band}, released in {year}."),
            _Kind("{Thing} of {Name} (song)", '"{label}" is a song by {band} from their {year} album.'),
            _Kind("{Name}phone", "The {label} is a {adj} wind instrument played mainly in {region}."),
        ),
        sentences=(
            "Critics praised the {adj} rhythm section and the layered vocal harmonies.",
            "The music blends folk melodies with brass band arrangements.",
            "It reached number {k} on the regional charts and stayed there for {n} weeks.",
            "Live performances often end with a long improvised coda.",
            "The recording was made in a converted chapel to capture its natural echo.",
        ),
        sections=("Background", "Reception", "Legacy"),
        adjectives=("loud", "gentle", "experimental", "acoustic", "influential", "short-lived", "touring"),
        hub="Music",
    ),
    _Theme(
        name="computing",
        count=90,
        kinds=(
            _Kind(
                "{Name} (programming language)",
                "{label} is a {adj} programming language designed in {year} for data processing.",
            ),
            _Kind(
                "{Name} sort",
                "{title} is a {adj} sorting algorithm that runs in n log n time on typical input.",
            ),
            _Kind(
                "{Name} protocol",
                "The {title} is a network protocol for exchanging messages between {adj} devices, first "
                "specified in {year}.",
            ),
            _Kind("{Name}FS", "{title} is a {adj} journaling file system written for small servers."),
        ),
        sentences=(
            "Its compiler is written in {other} and targets several processor architectures.",
            "The reference implementation is released under a permissive licence.",
            "Benchmarks show that it uses about {k}0 percent less memory than comparable designs.",
            "Early versions suffered from a subtle bug in how they handled leap seconds.",
            "The algorithm is stable and works well on nearly sorted data.",
        ),
        sections=("Design", "Implementations", "Criticism"),
        adjectives=("functional", "compact", "concurrent", "portable", "lightweight", "strict", "modular"),
        hub="Computing",
    ),
    _Theme(
        name="food",
        count=90,
        kinds=(
            _Kind("{Name} bread", "{title} is a {adj} bread from {region}, traditionally baked for weddings."),
            _Kind("{Name} stew", "{title} is a {adj} stew from {region}, traditionally served in winter."),
            _Kind("{Name} cheese", "{title} is a {adj} cheese made in the dairies of {region}."),
            _Kind("{Name} dumplings", "{title} are {adj} dumplings from {region}, usually boiled in broth."),
            _Kind("{Name} soup", "{title} is a {adj} soup from {region}, eaten at harvest festivals."),
        ),
        sentences=(
            "It is made from barley, onions and a pinch of smoked salt.",
            "Recipes vary between villages, and some cooks add dried pears for sweetness.",
            "The dish is often paired with bread baked in a wood-fired oven.",
            "A fair in {town} celebrates it every autumn.",
            "Cooks along the {river} simmer it with freshwater fish.",
        ),
        sections=("Preparation", "Variants", "History"),
        adjectives=("hearty", "sour", "spiced", "creamy", "rustic", "smoky", "sweet"),
    ),
    _Theme(
        name="astronomy",
        count=80,
        kinds=(
            _Kind(
                "{Name} Nebula",
                "The {title} is a {adj} emission nebula about {big} light-years away from the Sun.",
            ),
            _Kind("{Name} (moon)", "{label} is the {ordinal} moon of a gas giant, about {n} kilometres across."),
            _Kind("{Name} Cluster", "The {title} is a {adj} open star cluster of roughly {n} young stars."),
        ),
        sentences=(
            "It was first catalogued in {year} by the astronomer {person}.",
            "Long-exposure photographs reveal faint filaments of dust and gas.",
            "Amateur observers can find it with a small telescope on clear autumn nights.",
            "Its distance was refined in {year} using parallax measurements.",
            "The brightest star in the field shines with a {colour} light.",
        ),
        sections=("Observation", "Structure", "Discovery"),
        adjectives=("faint", "bright", "compact", "diffuse", "distant", "young", "ancient"),
    ),
    _Theme(
        name="birds",
        count=80,
        kinds=(
            _Kind("{Adj} {bird}", "The {lower} is a {adj} songbird found in the reed beds of {region}."),
            _Kind("{Name} {bird}", "The {title} is a {adj} bird of upland moors and river valleys in {region}."),
        ),
        sentences=(
            "It feeds mainly on insects and seeds and nests in dense shrubs.",
            "Its song is a series of {k} clear notes followed by a dry rattle.",
            "Populations have declined since {year} because of wetland drainage.",
            "Males have a {colour} crown that they raise during courtship displays.",
            "In winter flocks gather along the {river}.",
        ),
        sections=("Description", "Behaviour", "Conservation"),
        adjectives=("small", "shy", "migratory", "common", "rare", "noisy", "secretive"),
    ),
    _Theme(
        name="history",
        count=60,
        kinds=(
            _Kind("{Name} Castle", "{title} is a ruined {adj} castle overlooking the {river} in {region}."),
            _Kind("Siege of {Name}", "The {title} was a {k}-week siege fought in {year} during a border war."),
            _Kind("{Name} Abbey", "{title} is a former {adj} abbey founded in {year} near {town}."),
            _Kind("Treaty of {Name}", "The {title} was an agreement signed in {year} that ended a long feud."),
        ),
        sentences=(
            "Its curtain wall was rebuilt in stone after a fire in {year}.",
            "Archaeologists have recovered coins, arrowheads and glazed pottery from the site.",
            "The chronicle of {person} gives the only surviving account of these events.",
            "Today the grounds are open to visitors during the summer months.",
        ),
        sections=("History", "Architecture", "Legacy"),
        adjectives=("Norman", "hilltop", "fortified", "Cistercian", "modest", "great", "royal"),
    ),
)

_TITLE_WORDS = {
    "Adj": ("Velvet", "Hollow", "Silver", "Crooked", "Quiet", "Burning", "Paper", "Glass", "Iron", "Wandering"),
    "Things": ("Lanterns", "Foxes", "Mirrors", "Sparrows", "Engines", "Tides", "Bells", "Rivers", "Kites"),
    "Thing": ("Harbour", "Winter", "Lantern", "Mirror", "Engine", "Orchard", "Signal", "Tide", "Ember"),
    "bird": ("warbler", "finch", "heron", "plover", "kestrel", "wren", "moorwren", "bunting", "pipit"),
}

# Hand-written pages: the hubs, and titles whose characters exercise URL, JSON and HTML encoding.
_SPECIAL_PAGES: tuple[tuple[str, str, str, str | None], ...] = (
    (
        HUB_TITLE,
        "hubs",
        "Earth is the only world known to carry rivers, walled towns, brass bands and barley stews. Its surface "
        "is mostly water, and nearly every other article in this collection links back here. That makes it "
        "the page with the most backlinks in the whole wiki.",
        "Earth_globe.png",
    ),
    (
        "River",
        "hubs",
        "A river is a natural stream of fresh water that flows toward a sea, a lake or another river. Rivers "
        "carve valleys, build deltas and decide where people settle.",
        "River_bend.png",
    ),
    (
        "Music",
        "hubs",
        "Music is the art of arranging sounds in time through melody, rhythm and harmony. Bands, albums, "
        "songs and instruments from many regions link here.",
        None,
    ),
    (
        "Computing",
        "hubs",
        "Computing is the practice of processing information with machines. It covers programming languages, "
        "sorting algorithms, network protocols and file systems.",
        None,
    ),
    (
        "Zürich",
        "towns",
        "Zürich is a lakeside trading town whose name carries an umlaut; the spelling without it redirects "
        "here. Its old bridges span the outflow of a long glacial lake, and its river once turned a dozen "
        "mills.",
        "Zürich_skyline.png",
    ),
    (
        "AC/DC",
        "music",
        "AC/DC is a hard rock band whose name contains a slash. Its records are built on short, repeated "
        "guitar riffs and shouted choruses. The slash has to survive every URL, cache key and file name it "
        "passes through.",
        "AC-DC_stage.png",
    ),
    (
        "C++",
        "computing",
        "C++ is a programming language whose name ends in two plus signs, which turn into spaces when a query "
        "string is not encoded properly. It extends an older language with classes, templates and "
        "deterministic destruction.",
        None,
    ),
    (
        "Rock & roll",
        "music",
        "Rock & roll is a style of popular music built on a steady backbeat, electric guitars and "
        "call-and-response vocals. Its title carries an ampersand, which must be escaped in query strings "
        "and HTML alike.",
        "Rock_&_roll_guitar.png",
    ),
    (
        INJECTION_TITLE,
        "computing",
        "Script injection is a page whose text carries markup that must never run: "
        f"{INJECTION_MARKUP} If the tags above show up as plain text, the page was escaped correctly.",
        None,
    ),
    (
        "100% Juice",
        "food",
        "100% Juice is a pressed fruit drink sold in glass bottles across the Selmar Basin. The percent sign "
        "in its name is a handy test of URL encoding.",
        None,
    ),
    (
        "Who? (song)",
        "music",
        '"Who?" is a two-minute song whose title ends in a question mark. It opens with a single drum hit and '
        "ends with the band asking the question one last time.",
        None,
    ),
    (
        'The "Quoted" Lanterns',
        "music",
        'The "Quoted" Lanterns are a band whose name contains double quotes, which must be escaped in JSON '
        "strings and HTML attributes. They play slow waltzes on borrowed instruments.",
        None,
    ),
    (
        "Ship's biscuit",
        "food",
        "Ship's biscuit is a hard, dry cracker baked to keep for months at sea. Sailors softened it in tea or "
        "stew before eating it.",
        None,
    ),
    (
        "Wave 🌊",
        "rivers",
        "Wave 🌊 is a page whose title holds an emoji outside the Basic Multilingual Plane. Clients that count "
        "UTF-16 code units instead of characters trip over it, much as a river trips over a weir.",
        "Wave_🌊.png",
    ),
)


# Hand-written pages added after every other page is drawn (see `_Generator._add_late_pages`):
# (title, theme, extract, body, links by title).
_LATE_PAGES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    (
        "Blues",
        "music",
        "Blues is a music of twelve-bar progressions, bent notes and call-and-response singing. It fed straight "
        "into rock and roll, whose early records borrowed its riffs wholesale.",
        "\n\n\n== Legacy ==\nPlayers still argue about which record was the first rock and roll one.",
        ("Rock and roll", "Music"),
    ),
    (
        "Skiffle",
        "music",
        "Skiffle is a homemade music played on washboards, tea-chest basses and cheap guitars. Its fans called the "
        "louder sound that followed rock 'n' roll, or just rock and roll.",
        "\n\n\n== Instruments ==\nA washboard, a tea chest, a broom handle and a length of string make a band.",
        ("Rock 'n' roll", "Rock and roll"),
    ),
    (
        "Rockabilly",
        "music",
        "Rockabilly is an early, twangy style of rock-and-roll with a slapped double bass and echoing vocals.",
        "\n\n\n== Revival ==\nA rockabilly revival filled dance halls in the Selmar Basin decades later.",
        ("Rock-and-roll",),
    ),
    (
        MARKUP_TITLE,
        "music",
        "",
        "\n\n\n== Issues ==\nThe magazine printed music reviews for twelve years; its title was set in "
        "italics on every cover, ampersand and all.",
        ("Music",),
    ),
)

# Links added to existing pages after every page is drawn: AC/DC links to its article and to a redirect to it.
_LATE_LINKS = {"AC/DC": ("Rock and roll",)}

_FIXED_LINKS = {
    "AC/DC": ("Rock & roll", "Music"),
    "Rock & roll": ("AC/DC", "Music"),
    "C++": ("Computing",),
    "Who? (song)": ("Music", 'The "Quoted" Lanterns'),
    "Zürich": ("River",),
}


@dataclass
class _Draft:
    """A page before its links, metadata and id are final."""

    title: str
    theme: str
    opening: str = ""
    extract: str = ""
    body: str = ""
    image_name: str | None = None
    redirect_to: str | None = None
    pageid: int = 0
    links: set[int] = field(default_factory=set)
    # Hand-written late pages get an image only when they name one; drawn pages sometimes get one at random.
    late: bool = False


class _Generator:
    """Builds one corpus from one seeded random stream; every choice goes through `self.rng`, in a fixed order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (reproducible content, not secrets)
        self.taken: set[str] = set()
        self.drafts: list[_Draft] = []
        self.by_theme: dict[str, list[_Draft]] = {}

    def build(self) -> list[Page]:
        """Titles, then ids, then text, then links, then images and metadata."""
        self._add_specials()
        for theme in _THEMES:
            for _ in range(theme.count):
                kind = self.rng.choice(theme.kinds)
                title = self._unique_title(kind.pattern)
                self._add(_Draft(title=title, theme=theme.name, opening=kind.opening))
        for alias, target in REDIRECTS.items():
            self.drafts.append(_Draft(title=alias, theme="redirects", redirect_to=target))
            self.taken.add(alias)
        self._assign_ids()
        themes = {t.name: t for t in _THEMES}
        for draft in self.drafts:
            if draft.theme in themes and not draft.extract:
                self._write(draft, themes[draft.theme])
        self._link(themes)
        self._add_late_pages()
        return self._finish()

    def _add_specials(self) -> None:
        for title, theme, extract, image in _SPECIAL_PAGES:
            self._add(_Draft(title=title, theme=theme, extract=extract, image_name=image))

    def _add(self, draft: _Draft) -> None:
        self.taken.add(draft.title)
        self.drafts.append(draft)
        self.by_theme.setdefault(draft.theme, []).append(draft)

    def _name(self) -> str:
        name = "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.choice((2, 2, 3))))
        # Roughly one name in eight carries an accent, so unicode titles are common, not a single special case.
        if self.rng.random() < 0.125:
            positions = [i for i, c in enumerate(name) if c in _ACCENTS]
            if positions:
                i = self.rng.choice(positions)
                name = name[:i] + _ACCENTS[name[i]] + name[i + 1 :]
        return name.capitalize()

    def _unique_title(self, pattern: str) -> str:
        while True:
            values = {key: self.rng.choice(options) for key, options in _TITLE_WORDS.items()}
            title = pattern.format(Name=self._name(), **values)
            if title not in self.taken:
                return title

    def _assign_ids(self) -> None:
        order = list(self.drafts)
        self.rng.shuffle(order)
        pageid = FIRST_PAGEID
        for draft in order:
            draft.pageid = pageid
            # Gaps, like deleted pages leave on a real wiki, so clients cannot assume contiguous ids.
            pageid += self.rng.choice((1, 1, 1, 2, 3, 7))

    def _pick_title(self, theme: str, exclude: str) -> str:
        candidates = [d.title for d in self.by_theme[theme] if d.title != exclude and "(" not in d.title]
        return self.rng.choice(candidates)

    def _write(self, draft: _Draft, theme: _Theme) -> None:
        # Names stay fixed for the whole page; numbers are drawn afresh for every sentence.
        names = {
            "title": draft.title,
            "label": re.sub(r" \([^)]*\)$", "", draft.title),
            "lower": draft.title[0].lower() + draft.title[1:],
            "region": self.rng.choice(_REGIONS),
            "town": self._pick_title("towns", draft.title),
            "river": self._pick_title("rivers", draft.title),
            "band": self._pick_title("music", draft.title),
            "other": self._pick_title(theme.name, draft.title),
            "person": f"{self.rng.choice(_PEOPLE_FIRST)} {self._name()}",
        }

        def fill(template: str) -> str:
            return template.format(
                adj=self.rng.choice(theme.adjectives),
                n=self.rng.randint(12, 480),
                big=f"{self.rng.randint(2, 90) * 1000:,}",
                k=self.rng.randint(2, 9),
                year=self.rng.randint(1120, 2015),
                ordinal=self.rng.choice(_ORDINALS),
                colour=self.rng.choice(_COLOURS),
                **names,
            )

        follow_ups = self.rng.sample(theme.sentences, self.rng.randint(1, 3))
        draft.extract = " ".join(fill(s) for s in (draft.opening, *follow_ups))
        draft.body = "".join(
            f"\n\n\n== {name} ==\n" + " ".join(fill(s) for s in self.rng.sample(theme.sentences, 2))
            for name in self.rng.sample(theme.sections, 2)
        )

    def _link(self, themes: dict[str, _Theme]) -> None:
        ids = {d.title: d.pageid for d in self.drafts}
        articles = [d for d in self.drafts if d.redirect_to is None]
        hub = ids[HUB_TITLE]
        for draft in self.rng.sample([d for d in articles if d.pageid != hub], HUB_BACKLINKS):
            draft.links.add(hub)
        for theme in themes.values():
            self._link_theme(theme, ids)
        for draft in self.by_theme["towns"]:
            if self.rng.random() < 0.25:
                draft.links.add(ids["Zürich"])
        for title, targets in _FIXED_LINKS.items():
            source = next(d for d in self.drafts if d.title == title)
            source.links.update(ids[t] for t in targets)
        for draft in self.drafts:
            if draft.redirect_to is not None:
                draft.links = {ids[draft.redirect_to]}
            draft.links.discard(draft.pageid)

    def _add_late_pages(self) -> None:
        """Append redirects and hand-written pages with ids past every other, drawing nothing from the stream.

        They come after the links are drawn and get the highest ids, so `_finish` draws their metadata last:
        every page that existed before keeps its id, text, links, image and timestamps.
        """
        pageid = max(d.pageid for d in self.drafts)
        late: list[_Draft] = []
        for alias, target in LINKED_REDIRECTS.items():
            late.append(_Draft(title=alias, theme="redirects", redirect_to=target, late=True))
        for title, theme, extract, body, _ in _LATE_PAGES:
            late.append(_Draft(title=title, theme=theme, extract=extract, body=body, late=True))
        for draft in late:
            pageid += 1
            draft.pageid = pageid
            self.drafts.append(draft)
            self.taken.add(draft.title)
        ids = {d.title: d.pageid for d in self.drafts}
        for draft in late:
            if draft.redirect_to is not None:
                draft.links = {ids[draft.redirect_to]}
        for title, _, _, _, targets in _LATE_PAGES:
            next(d for d in late if d.title == title).links = {ids[t] for t in targets}
        for title, targets in _LATE_LINKS.items():
            next(d for d in self.drafts if d.title == title).links.update(ids[t] for t in targets)

    def _link_theme(self, theme: _Theme, ids: dict[str, int]) -> None:
        members = self.by_theme[theme.name]
        if theme.hub is not None:
            for draft in members:
                if self.rng.random() < 0.8:
                    draft.links.add(ids[theme.hub])
        # Links inside a theme go to its first quarter only, so most pages end up with no backlinks.
        popular = members[: max(4, len(members) // 4)]
        for draft in members:
            for target in self.rng.sample(popular, self.rng.choice((0, 0, 1, 1, 2, 3))):
                draft.links.add(target.pageid)

    def _finish(self) -> list[Page]:
        epoch = datetime(2023, 1, 1, tzinfo=UTC)
        pages: list[Page] = []
        for draft in sorted(self.drafts, key=lambda d: d.pageid):
            image = self._image(draft)
            if draft.redirect_to is not None:
                wikitext = f"#REDIRECT [[{draft.redirect_to}]]"
                extract, body = "", ""
            else:
                extract, body = draft.extract, draft.body
                wikitext = extract + body
            touched = epoch + timedelta(seconds=self.rng.randint(0, 2 * 365 * 24 * 3600))
            pages.append(
                Page(
                    pageid=draft.pageid,
                    title=draft.title,
                    theme=draft.theme,
                    extract=extract,
                    body=body,
                    links=tuple(sorted(draft.links)),
                    image=image,
                    lastrevid=self.rng.randint(1_000_000, 9_999_999),
                    touched=touched.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    # Wikitext carries templates and references the plain extract lacks, hence the factor.
                    length=len(wikitext.encode()) * (1 if draft.redirect_to else self.rng.randint(3, 12)),
                    redirect_to=draft.redirect_to,
                )
            )
        return pages

    def _image(self, draft: _Draft) -> Image | None:
        if draft.redirect_to is not None or (draft.late and draft.image_name is None):
            return None
        name = draft.image_name
        if name is None:
            if self.rng.random() >= 0.35:
                return None
            # MediaWiki forbids ':', '/' and '\' in file names; spaces become underscores.
            stem = re.sub(r"[:/\\]", "-", draft.title).replace(" ", "_")
            name = f"{stem}_{self.rng.choice(('photo', 'map', 'drawing', 'cover'))}.png"
        width = self.rng.randint(480, 1600)
        height = max(1, round(width * self.rng.choice((0.5, 0.66, 0.75, 1.0, 1.33, 1.5))))
        return Image(name=name, width=width, height=height)


def build_corpus(seed: int = DEFAULT_SEED) -> Corpus:
    """The sample wiki's pages for `seed`; the same seed always gives an identical corpus."""
    return Corpus(seed=seed, pages=tuple(_Generator(seed).build()))
