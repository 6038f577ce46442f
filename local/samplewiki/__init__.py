"""The sample wiki: a deterministic invented corpus served through a MediaWiki-compatible api.php on loopback."""

from __future__ import annotations

from local.samplewiki.corpus import Corpus, Image, Page, build_corpus
from local.samplewiki.server import ApiError, Fault, Faults, RecordedRequest, SampleWiki, params_match

__all__ = [
    "ApiError",
    "Corpus",
    "Fault",
    "Faults",
    "Image",
    "Page",
    "RecordedRequest",
    "SampleWiki",
    "build_corpus",
    "params_match",
]
