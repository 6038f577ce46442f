"""The sample wiki's pages for people: the home page, articles, index.php, and image files."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from urllib.parse import unquote

from local.samplewiki.api.props import extract
from local.samplewiki.images import png_bytes, thumbnail_height, thumbnail_size
from local.samplewiki.replies import Reply, html_reply
from local.samplewiki.site import Site
from local.samplewiki.titles import normalize_title


def home_page(site: Site) -> Reply:
    """The home page: the hubs, and where the API is."""
    featured = [site.corpus.hub, *site.corpus.medium_hubs]
    items = "".join(
        f'<li><a href="{html.escape(site.page_url(p.title))}">{html.escape(p.title)}</a></li>' for p in featured
    )
    body = (
        "<h1>WikiRoam sample wiki</h1>"
        f'<p>{len(site.corpus.pages)} invented pages. API: <a href="{site.api_url}">{site.api_url}</a></p>'
        f"<ul>{items}</ul>"
    )
    return html_reply(200, "Sample wiki", body)


def index_page(site: Site, params: Mapping[str, str]) -> Reply:
    """`/w/index.php`: an article by `title`, or the read-only wiki's edit page."""
    if params.get("action") == "edit":
        title = html.escape(params.get("title", ""))
        return html_reply(200, "Editing", f"<h1>Editing {title}</h1><p>The sample wiki is read-only.</p>")
    return article_page(site, params.get("title", ""))


def article_page(site: Site, raw_title: str) -> Reply:
    """An article with its image, its text, its links and how many pages link to it; a redirect shows its target."""
    corpus = site.corpus
    title, _ = normalize_title(raw_title)
    page = corpus.by_title(title) if title else None
    if page is None or title is None:
        shown = html.escape(title or raw_title)
        return html_reply(404, shown, f"<h1>{shown}</h1><p>This page does not exist.</p>")
    note = ""
    if page.redirect_to is not None:
        note = f"<p><i>(Redirected from {html.escape(page.title)})</i></p>"
        target = corpus.by_title(page.redirect_to)
        page = target if target is not None else page
    parts = [f"<h1>{html.escape(page.title)}</h1>", note]
    if page.image is not None:
        width, height = thumbnail_size(page.image, 320)
        source = site.image_url(page.image, width)
        parts.append(f'<img src="{html.escape(source)}" width="{width}" height="{height}" alt="">')
    parts.append(extract(page, intro=False, plain=False, section_format="wiki"))
    links = [corpus.by_id(i) for i in page.links]
    items = "".join(
        f'<li><a href="{html.escape(site.page_url(p.title))}">{html.escape(p.title)}</a></li>'
        for p in links
        if p is not None
    )
    parts.append(f"<h2>Links</h2><ul>{items}</ul>")
    backlinks = len(corpus.backlinks_of(page.pageid))
    parts.append(f"<p>{backlinks} pages link here.</p>")
    return html_reply(200, page.title, "\n".join(parts))


def image_file(site: Site, path: str) -> Reply:
    """An image or a thumbnail under `/images/`, as a PNG of the size its URL says."""
    parts = [unquote(p) for p in path.removeprefix("/images/").split("/")]
    thumb = parts[0] == "thumb"
    if thumb:
        parts = parts[1:]
    image = site.corpus.images.get(parts[2]) if len(parts) >= 3 else None
    if image is None or "/".join(parts[:2]) != image.hash_path or len(parts) != (4 if thumb else 3):
        return html_reply(404, "Not found", "<h1>No such file</h1>")
    width, height = image.width, image.height
    if thumb:
        match = re.fullmatch(r"([0-9]+)px-(.+)", parts[3])
        if match is None or match.group(2) != image.name or not 1 <= int(match.group(1)) <= image.width:
            return html_reply(404, "Not found", "<h1>No such thumbnail</h1>")
        width = int(match.group(1))
        height = thumbnail_height(image, width)
    headers = {"Cache-Control": "public, max-age=86400"}
    return Reply(200, png_bytes(width, height, image.name), "image/png", headers)
