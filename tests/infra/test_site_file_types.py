"""Which files of site/ are uploaded, and with which headers (pure functions, no Pulumi)."""

from __future__ import annotations

import pytest

from components.site_files import cache_control, content_type, site_files


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("lib/module.mjs", "text/javascript; charset=utf-8"),
        ("styles/site.css", "text/css; charset=utf-8"),
        ("data/corpus.json", "application/json"),
        ("img/logo.svg", "image/svg+xml"),
        ("img/Photo.PNG", "image/png"),
        ("img/photo.jpeg", "image/jpeg"),
        ("favicon.ico", "image/x-icon"),
        ("fonts/a.woff2", "font/woff2"),
        ("site.webmanifest", "application/manifest+json"),
        ("robots.txt", "text/plain; charset=utf-8"),
        ("LICENSE", "application/octet-stream"),
        ("archive.unknownext", "application/octet-stream"),
    ],
)
def test_given_a_key_then_its_content_type_follows_its_extension(key, expected):
    assert content_type(key) == expected


def test_given_html_then_it_revalidates_and_other_assets_cache_briefly():
    assert cache_control("index.html") == "no-cache"
    assert cache_control("app.js") == "public, max-age=300"


def test_given_no_site_folder_then_nothing_is_uploaded(tmp_path):
    assert site_files(tmp_path / "site") == []


def test_given_a_site_folder_then_every_visible_file_is_uploaded_under_its_posix_key(tmp_path):
    for relative in ("index.html", "js/app.js", "css/site.css", ".hidden", ".git/config", "img/.DS_Store"):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    files = site_files(tmp_path)
    assert [f.key for f in files] == ["css/site.css", "index.html", "js/app.js"]
    index = files[1]
    assert index.path == tmp_path / "index.html"
    assert (index.content_type, index.cache_control) == ("text/html; charset=utf-8", "no-cache")
