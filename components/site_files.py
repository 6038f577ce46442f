"""Which files of `site/` are uploaded, under which keys, with which Content-Type and Cache-Control."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Explicit types for what a static site ships: the platform's mimetypes table varies between machines.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# File names carry no content hash, so nothing is cached for long: HTML revalidates on every load, the rest
# for five minutes, and a deploy is visible to everyone within that.
HTML_CACHE_CONTROL = "no-cache"
ASSET_CACHE_CONTROL = "public, max-age=300"
# Never uploaded: editor and OS droppings, and anything hidden.
IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db"})


@dataclass(frozen=True)
class SiteFile:
    """One file to upload: its object key, where it is on disk, and its headers."""

    key: str
    path: Path
    content_type: str
    cache_control: str


def content_type(key: str) -> str:
    """The Content-Type for an object key, from its extension (case-insensitive)."""
    suffix = PurePosixPath(key).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(key, strict=True)
    return guessed or DEFAULT_CONTENT_TYPE


def cache_control(key: str) -> str:
    """The Cache-Control header for an object key."""
    return HTML_CACHE_CONTROL if PurePosixPath(key).suffix.lower() in {".html", ".htm"} else ASSET_CACHE_CONTROL


def site_files(root: Path) -> list[SiteFile]:
    """Every file under `root` to upload, sorted by key; none when the folder does not exist."""
    if not root.is_dir():
        return []
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") or part in IGNORED_NAMES for part in relative.parts):
            continue
        key = relative.as_posix()
        files.append(SiteFile(key=key, path=path, content_type=content_type(key), cache_control=cache_control(key)))
    return files
