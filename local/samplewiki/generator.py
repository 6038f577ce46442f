"""Draws the sample wiki's corpus from one seed: titles, ids, text, links, images and metadata.

Every choice goes through one seeded random stream in a fixed order, so the same seed always yields the same
pages, ids, links and timestamps. The link graph is shaped on purpose (see `corpus`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from local.samplewiki.corpus import (
    DEFAULT_SEED,
    FIRST_PAGEID,
    HUB_BACKLINKS,
    HUB_TITLE,
    LINKED_REDIRECTS,
    REDIRECTS,
    Corpus,
    Image,
    Page,
)
from local.samplewiki.texts import (
    ACCENTS,
    COLOURS,
    FIXED_LINKS,
    LATE_LINKS,
    LATE_PAGES,
    ORDINALS,
    PEOPLE_FIRST,
    REGIONS,
    SPECIAL_PAGES,
    SYLLABLES,
    THEMES,
    TITLE_WORDS,
    Theme,
)


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


class Generator:
    """Builds one corpus from one seeded random stream; every choice goes through `self.rng`, in a fixed order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (reproducible content, not secrets)
        self.taken: set[str] = set()
        self.drafts: list[_Draft] = []
        self.by_theme: dict[str, list[_Draft]] = {}

    def build(self) -> list[Page]:
        """Titles, then ids, then text, then links, then images and metadata."""
        self._add_specials()
        for theme in THEMES:
            for _ in range(theme.count):
                kind = self.rng.choice(theme.kinds)
                title = self._unique_title(kind.pattern)
                self._add(_Draft(title=title, theme=theme.name, opening=kind.opening))
        for alias, target in REDIRECTS.items():
            self.drafts.append(_Draft(title=alias, theme="redirects", redirect_to=target))
            self.taken.add(alias)
        self._assign_ids()
        themes = {t.name: t for t in THEMES}
        for draft in self.drafts:
            if draft.theme in themes and not draft.extract:
                self._write(draft, themes[draft.theme])
        self._link(themes)
        self._add_late_pages()
        return self._finish()

    def _add_specials(self) -> None:
        for title, theme, extract, image in SPECIAL_PAGES:
            self._add(_Draft(title=title, theme=theme, extract=extract, image_name=image))

    def _add(self, draft: _Draft) -> None:
        self.taken.add(draft.title)
        self.drafts.append(draft)
        self.by_theme.setdefault(draft.theme, []).append(draft)

    def _name(self) -> str:
        name = "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.choice((2, 2, 3))))
        # Roughly one name in eight carries an accent, so unicode titles are common, not a single special case.
        if self.rng.random() < 0.125:
            positions = [i for i, c in enumerate(name) if c in ACCENTS]
            if positions:
                i = self.rng.choice(positions)
                name = name[:i] + ACCENTS[name[i]] + name[i + 1 :]
        return name.capitalize()

    def _unique_title(self, pattern: str) -> str:
        while True:
            values = {key: self.rng.choice(options) for key, options in TITLE_WORDS.items()}
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

    def _write(self, draft: _Draft, theme: Theme) -> None:
        # Names stay fixed for the whole page; numbers are drawn afresh for every sentence.
        names = {
            "title": draft.title,
            "label": re.sub(r" \([^)]*\)$", "", draft.title),
            "lower": draft.title[0].lower() + draft.title[1:],
            "region": self.rng.choice(REGIONS),
            "town": self._pick_title("towns", draft.title),
            "river": self._pick_title("rivers", draft.title),
            "band": self._pick_title("music", draft.title),
            "other": self._pick_title(theme.name, draft.title),
            "person": f"{self.rng.choice(PEOPLE_FIRST)} {self._name()}",
        }

        def fill(template: str) -> str:
            return template.format(
                adj=self.rng.choice(theme.adjectives),
                n=self.rng.randint(12, 480),
                big=f"{self.rng.randint(2, 90) * 1000:,}",
                k=self.rng.randint(2, 9),
                year=self.rng.randint(1120, 2015),
                ordinal=self.rng.choice(ORDINALS),
                colour=self.rng.choice(COLOURS),
                **names,
            )

        follow_ups = self.rng.sample(theme.sentences, self.rng.randint(1, 3))
        draft.extract = " ".join(fill(s) for s in (draft.opening, *follow_ups))
        draft.body = "".join(
            f"\n\n\n== {name} ==\n" + " ".join(fill(s) for s in self.rng.sample(theme.sentences, 2))
            for name in self.rng.sample(theme.sections, 2)
        )

    def _link(self, themes: dict[str, Theme]) -> None:
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
        for title, targets in FIXED_LINKS.items():
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
        for title, theme, extract, body, _ in LATE_PAGES:
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
        for title, _, _, _, targets in LATE_PAGES:
            next(d for d in late if d.title == title).links = {ids[t] for t in targets}
        for title, targets in LATE_LINKS.items():
            next(d for d in self.drafts if d.title == title).links.update(ids[t] for t in targets)

    def _link_theme(self, theme: Theme, ids: dict[str, int]) -> None:
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
    return Corpus(seed=seed, pages=tuple(Generator(seed).build()))
