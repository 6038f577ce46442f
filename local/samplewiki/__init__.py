"""The sample wiki: a deterministic invented corpus served through a MediaWiki-compatible api.php on loopback.

| module | what it holds |
|---|---|
| `corpus` (+ `generator`, `texts`) | the pages, their links and a small search engine, built from a seed |
| `api/` | api.php: ApiMain, action=query and its modules, answered like MediaWiki 1.39 |
| `params`, `titles` | MediaWiki's parameter and title rules |
| `pages`, `images` | the HTML pages and the PNG files a browser sees |
| `faults` | the faults armed on demand and the request log |
| `server` | `SampleWiki`: the HTTP server (the local stack's `LoopbackServer`) tying them together |
"""

from __future__ import annotations

from local.samplewiki.corpus import Corpus, Image, Page
from local.samplewiki.faults import Fault, Faults, RecordedRequest, params_match
from local.samplewiki.generator import build_corpus
from local.samplewiki.params import ApiError
from local.samplewiki.server import SampleWiki
from local.samplewiki.site import SEARCH_BACKEND_VARIABLE, SearchBackend

__all__ = [
    "SEARCH_BACKEND_VARIABLE",
    "ApiError",
    "Corpus",
    "Fault",
    "Faults",
    "Image",
    "Page",
    "RecordedRequest",
    "SampleWiki",
    "SearchBackend",
    "build_corpus",
    "params_match",
]
