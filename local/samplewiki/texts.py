"""The sample wiki's words: syllables, word lists, sentence templates by theme, and the hand-written pages.

Only data (and the two small types that shape it): `generator.py` draws every page from it. All of it is
invented, so the corpus is free of third-party text.
"""

from __future__ import annotations

from dataclasses import dataclass

from local.samplewiki.corpus import HUB_TITLE, INJECTION_MARKUP, INJECTION_TITLE, MARKUP_TITLE

SYLLABLES = (
    "va", "ren", "tor", "mi", "sel", "ka", "dor", "lin", "bra", "fe", "no", "quel", "ash", "um", "ti", "gro",
    "vel", "mar", "os", "than", "ri", "ku", "bel", "cas", "dra", "en", "hol", "ix", "jor", "lu", "mo", "per",
    "sa", "ter", "ul", "wen", "yar", "zo", "ber", "cal", "fen", "gar", "har", "is", "lor", "nel", "or", "ston",
)  # fmt: skip
ACCENTS = {"o": "ö", "a": "å", "u": "ü", "e": "é"}
REGIONS = (
    "the Orvane Highlands", "the Selmar Basin", "Northern Kaldria", "the Isles of Ferrow", "the Tavish Coast",
    "the Brenmoor Plateau", "Upper Vell", "the Quarn Lowlands", "the Astel Marches", "Southern Kaldria",
)  # fmt: skip
PEOPLE_FIRST = ("Ada", "Tomas", "Ines", "Oskar", "Lena", "Piet", "Maren", "Ilya", "Sunniva", "Emeric", "Odile")
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh")
COLOURS = ("crimson", "pale blue", "amber", "silver", "deep green", "rust-brown", "violet")


@dataclass(frozen=True)
class Kind:
    """One kind of page in a theme: how its title is made and how its first sentence reads."""

    pattern: str
    opening: str


@dataclass(frozen=True)
class Theme:
    """A vocabulary family: page kinds, follow-up sentences, section names and the theme's medium hub."""

    name: str
    count: int
    kinds: tuple[Kind, ...]
    sentences: tuple[str, ...]
    sections: tuple[str, ...]
    adjectives: tuple[str, ...]
    hub: str | None = None


THEMES: tuple[Theme, ...] = (
    Theme(
        name="rivers",
        count=110,
        kinds=(
            Kind(
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
    Theme(
        name="towns",
        count=90,
        kinds=(
            Kind("{Name}", "{title} is a {adj} town in {region} with a population of about {big}."),
            Kind("{Name}haven", "{title} is a {adj} harbour town on the coast of {region}."),
            Kind("{Name}burg", "{title} is a {adj} walled town in {region}, founded around a hilltop keep."),
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
    Theme(
        name="music",
        count=100,
        kinds=(
            Kind("The {Adj} {Things}", "{title} are a {adj} band formed in {town} in {year}."),
            Kind("{Adj} {Thing} (album)", "{label} is the {ordinal} studio album by {band}, released in {year}."),
            Kind("{Thing} of {Name} (song)", '"{label}" is a song by {band} from their {year} album.'),
            Kind("{Name}phone", "The {label} is a {adj} wind instrument played mainly in {region}."),
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
    Theme(
        name="computing",
        count=90,
        kinds=(
            Kind(
                "{Name} (programming language)",
                "{label} is a {adj} programming language designed in {year} for data processing.",
            ),
            Kind(
                "{Name} sort",
                "{title} is a {adj} sorting algorithm that runs in n log n time on typical input.",
            ),
            Kind(
                "{Name} protocol",
                "The {title} is a network protocol for exchanging messages between {adj} devices, first "
                "specified in {year}.",
            ),
            Kind("{Name}FS", "{title} is a {adj} journaling file system written for small servers."),
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
    Theme(
        name="food",
        count=90,
        kinds=(
            Kind("{Name} bread", "{title} is a {adj} bread from {region}, traditionally baked for weddings."),
            Kind("{Name} stew", "{title} is a {adj} stew from {region}, traditionally served in winter."),
            Kind("{Name} cheese", "{title} is a {adj} cheese made in the dairies of {region}."),
            Kind("{Name} dumplings", "{title} are {adj} dumplings from {region}, usually boiled in broth."),
            Kind("{Name} soup", "{title} is a {adj} soup from {region}, eaten at harvest festivals."),
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
    Theme(
        name="astronomy",
        count=80,
        kinds=(
            Kind(
                "{Name} Nebula",
                "The {title} is a {adj} emission nebula about {big} light-years away from the Sun.",
            ),
            Kind("{Name} (moon)", "{label} is the {ordinal} moon of a gas giant, about {n} kilometres across."),
            Kind("{Name} Cluster", "The {title} is a {adj} open star cluster of roughly {n} young stars."),
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
    Theme(
        name="birds",
        count=80,
        kinds=(
            Kind("{Adj} {bird}", "The {lower} is a {adj} songbird found in the reed beds of {region}."),
            Kind("{Name} {bird}", "The {title} is a {adj} bird of upland moors and river valleys in {region}."),
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
    Theme(
        name="history",
        count=60,
        kinds=(
            Kind("{Name} Castle", "{title} is a ruined {adj} castle overlooking the {river} in {region}."),
            Kind("Siege of {Name}", "The {title} was a {k}-week siege fought in {year} during a border war."),
            Kind("{Name} Abbey", "{title} is a former {adj} abbey founded in {year} near {town}."),
            Kind("Treaty of {Name}", "The {title} was an agreement signed in {year} that ended a long feud."),
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

TITLE_WORDS = {
    "Adj": ("Velvet", "Hollow", "Silver", "Crooked", "Quiet", "Burning", "Paper", "Glass", "Iron", "Wandering"),
    "Things": ("Lanterns", "Foxes", "Mirrors", "Sparrows", "Engines", "Tides", "Bells", "Rivers", "Kites"),
    "Thing": ("Harbour", "Winter", "Lantern", "Mirror", "Engine", "Orchard", "Signal", "Tide", "Ember"),
    "bird": ("warbler", "finch", "heron", "plover", "kestrel", "wren", "moorwren", "bunting", "pipit"),
}

# Hand-written pages: the hubs, and titles whose characters exercise URL, JSON and HTML encoding.
SPECIAL_PAGES: tuple[tuple[str, str, str, str | None], ...] = (
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


# Hand-written pages added after every other page is drawn (see `Generator._add_late_pages`):
# (title, theme, extract, body, links by title).
LATE_PAGES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
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
LATE_LINKS = {"AC/DC": ("Rock and roll",)}

FIXED_LINKS = {
    "AC/DC": ("Rock & roll", "Music"),
    "Rock & roll": ("AC/DC", "Music"),
    "C++": ("Computing",),
    "Who? (song)": ("Music", 'The "Quoted" Lanterns'),
    "Zürich": ("River",),
}
