"""The wiki a request is answered for: its corpus, its URLs and the search backend it plays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, cast, get_args
from urllib.parse import quote

from local.samplewiki.corpus import Corpus, Image
from local.samplewiki.titles import url_title

SEARCH_BACKEND_VARIABLE: Final = "WIKIROAM_SAMPLEWIKI_SEARCH"
SearchBackend = Literal["cirrus", "database"]


def search_backend(name: str | None) -> SearchBackend:
    """The search backend called `name` (None or blank: "cirrus"); ValueError names the choices."""
    value = (name or "").strip() or "cirrus"
    if value not in get_args(SearchBackend):
        raise ValueError(
            f"unknown sample wiki search backend {value!r} (from {SEARCH_BACKEND_VARIABLE} or search=): "
            f"use {' or '.join(get_args(SearchBackend))}"
        )
    return cast(SearchBackend, value)


@dataclass
class Site:
    """The corpus served at `base_url`; only `search_backend` changes, and only between requests."""

    corpus: Corpus
    base_url: str
    search_backend: SearchBackend = "cirrus"

    @property
    def api_url(self) -> str:
        """The api.php endpoint."""
        return f"{self.base_url}/w/api.php"

    def page_url(self, title: str) -> str:
        """The article URL MediaWiki reports as `fullurl` for `title`."""
        return f"{self.base_url}/wiki/{url_title(title)}"

    def image_url(self, image: Image, width: int | None = None) -> str:
        """The URL of an image, or of its thumbnail `width` pixels wide."""
        name = quote(image.name, safe="")
        if width is None or width == image.width:
            return f"{self.base_url}/images/{image.hash_path}/{name}"
        return f"{self.base_url}/images/thumb/{image.hash_path}/{name}/{width}px-{name}"
