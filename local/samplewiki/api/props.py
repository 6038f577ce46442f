"""The page prop modules: prop=info, prop=extracts (TextExtracts) and prop=pageimages (PageImages)."""

from __future__ import annotations

import html
import re
from typing import Any, Final

from local.samplewiki.api.context import Continuation, Query
from local.samplewiki.corpus import Page
from local.samplewiki.images import thumbnail_size
from local.samplewiki.params import ApiError, bad_continue
from local.samplewiki.site import Site
from local.samplewiki.titles import url_title

MAX_EXTRACTS: Final = 20
MAX_PAGEIMAGES: Final = 50
_INFO_PROPS: Final = frozenset(
    {
        "protection", "talkid", "watched", "watchers", "visitingwatchers", "notificationtimestamp",
        "subjectid", "associatedpage", "url", "readable", "preload", "displaytitle", "varianttitles",
        "linkclasses",
    }
)  # fmt: skip
_MALFORMED_HTML_WARNING: Final = (
    "HTML may be malformed and/or unbalanced and may omit inline images. Use at your own risk. Known problems "
    "are listed at https://www.mediawiki.org/wiki/Special:MyLanguage/Extension:TextExtracts#Caveats."
)


def prop_info(query: Query, prefix: str) -> Continuation:
    """prop=info: page metadata, and URLs with `inprop=url`."""
    inprop = set(query.params.choices(f"{prefix}prop", _INFO_PROPS, "info"))
    query.params.claim(f"{prefix}testactions", f"{prefix}testactionsdetail", f"{prefix}continue")
    common = {
        "contentmodel": "wikitext",
        "pagelanguage": "en",
        "pagelanguagehtmlcode": "en",
        "pagelanguagedir": "ltr",
    }
    for entry in query.pageset.missing_titles:
        entry.update(common)
        _info_urls(query.site, entry, entry["title"], inprop)
    for page, entry in query.pageset.good:
        entry.update(common)
        entry.update(touched=page.touched, lastrevid=page.lastrevid, length=page.length)
        if page.is_redirect:
            entry["redirect"] = True
        if page.is_new:
            entry["new"] = True
        _info_urls(query.site, entry, page.title, inprop)
    return None


def _info_urls(site: Site, entry: dict[str, Any], title: str, inprop: set[str]) -> None:
    if "url" in inprop:
        entry["fullurl"] = site.page_url(title)
        entry["editurl"] = f"{site.base_url}/w/index.php?title={url_title(title)}&action=edit"
        entry["canonicalurl"] = site.page_url(title)
    if "displaytitle" in inprop:
        entry["displaytitle"] = html.escape(title, quote=False)


def prop_extracts(query: Query, prefix: str) -> Continuation:
    """prop=extracts: intro or whole-article extracts, 20 a request at most, plain text or HTML."""
    params = query.params
    limit = params.limit(f"{prefix}limit", "extracts", default=MAX_EXTRACTS, maximum=MAX_EXTRACTS)
    intro = params.flag(f"{prefix}intro")
    plain = params.flag(f"{prefix}plaintext")
    section_format = params.enum(f"{prefix}sectionformat", ("plain", "wiki", "raw"), "wiki")
    offset = params.integer(f"{prefix}continue", 0)
    params.claim(f"{prefix}chars", f"{prefix}sentences", f"{prefix}variant")
    # Whole-article extracts come one page per request; a single page needs no warning.
    if limit > 1 and not intro and len(query.pageset.good) > 1:
        limit = 1
        params.warn("extracts", f'"exlimit" was too large for a whole article extracts request, lowered to {limit}.')
    batch = query.pageset.good[offset:]
    for page, entry in batch[:limit]:
        entry["extract"] = extract(page, intro=intro, plain=plain, section_format=section_format)
        if not plain:
            params.warn("extracts", _MALFORMED_HTML_WARNING)
    if len(batch) > limit:
        return {f"{prefix}continue": offset + limit}
    return None


def prop_pageimages(query: Query, prefix: str) -> Continuation:
    """prop=pageimages: each page's lead image, as a thumbnail, the original, or its name."""
    params = query.params
    props = set(params.choices(f"{prefix}prop", frozenset({"thumbnail", "name", "original"}), "pageimages"))
    if f"{prefix}prop" not in params.raw:
        props = {"thumbnail", "name"}
    elif not props:
        raise ApiError("noprop", f'The parameter "{prefix}prop" may not be empty.')
    size = params.integer(f"{prefix}thumbsize", 50)
    limit = params.limit(f"{prefix}limit", "pageimages", default=MAX_PAGEIMAGES, maximum=MAX_PAGEIMAGES)
    params.claim(f"{prefix}license", f"{prefix}langcode")
    good = query.pageset.good
    offset = 0
    if f"{prefix}continue" in params.raw:
        # PageImages continues from a pageid, not an offset, and refuses one it cannot find past the start.
        resume = params.integer(f"{prefix}continue", 0)
        offset = next((i for i, (page, _) in enumerate(good) if page.pageid == resume), 0)
        if offset == 0:
            raise bad_continue()
    batch = good[offset:]
    for page, entry in batch[:limit]:
        if page.image is None:
            continue
        if "thumbnail" in props:
            width, height = thumbnail_size(page.image, size)
            entry["thumbnail"] = {
                "source": query.site.image_url(page.image, width),
                "width": width,
                "height": height,
            }
        if "original" in props:
            entry["original"] = {
                "source": query.site.image_url(page.image),
                "width": page.image.width,
                "height": page.image.height,
            }
        if "name" in props:
            entry["pageimage"] = page.image.name
    if len(batch) > limit:
        return {f"{prefix}continue": batch[limit][0].pageid}
    return None


def extract(page: Page, *, intro: bool, plain: bool, section_format: str) -> str:
    """A page's text as TextExtracts gives it: the intro or the whole article, plain or as HTML."""
    if page.redirect_to is not None:
        return ""
    text = page.extract if intro else page.full_text
    if plain:
        if section_format == "plain":
            return re.sub(r"== (.+?) ==", r"\1", text)
        return text
    # The HTML flavour escapes the text, as the parser escapes stray markup in wikitext.
    paragraphs = re.split(r"\n+== (.+?) ==\n", text)
    out = [f"<p>{html.escape(paragraphs[0], quote=False)}</p>"]
    for heading, body in zip(paragraphs[1::2], paragraphs[2::2], strict=True):
        out.append(f"<h2>{html.escape(heading, quote=False)}</h2>\n<p>{html.escape(body, quote=False)}</p>")
    return "\n".join(out)
