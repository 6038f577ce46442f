"""Page titles as MediaWiki normalizes them, puts them in URLs and sorts them."""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import quote

_ILLEGAL_TITLE = re.compile(r"[<>\[\]{}|\x00-\x1f\x7f]|%[0-9A-Fa-f]{2}")
_CHAR_REFERENCE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#x[0-9A-Fa-f]+);")


def normalize_title(raw: str) -> tuple[str | None, str | None]:
    """MediaWiki's title normalization: (title, None), or (None, reason) for an invalid title."""
    text = _CHAR_REFERENCE.sub(lambda m: html.unescape(m.group(0)), raw)
    text = unicodedata.normalize("NFC", text).split("#", 1)[0]
    text = re.sub(r"[ _]+", " ", text).strip(" ").lstrip(":").strip(" ")
    bad = _ILLEGAL_TITLE.search(text)
    if bad:
        return None, f'The requested page title contains invalid characters: "{bad.group(0)}".'
    if not text:
        return None, "The requested page title is empty or contains only the name of a namespace."
    return text[0].upper() + text[1:], None


def url_title(title: str) -> str:
    """A title as MediaWiki puts it in URLs: underscores for spaces, percent-encoding like wfUrlencode."""
    return quote(title.replace(" ", "_"), safe=";@$!*(),/~:")


def dbkey(title: str) -> bytes:
    """A title as the database sorts it: underscores for spaces, compared byte by byte."""
    return title.replace(" ", "_").encode()
