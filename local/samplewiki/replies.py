"""What the sample wiki answers over HTTP, before it is written: JSON for api.php, HTML for people."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """An HTTP answer before it is written."""

    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(body: Mapping[str, Any], headers: Mapping[str, str] | None = None, status: int = 200) -> Reply:
    """An api.php answer, with the headers MediaWiki sends on every one."""
    # formatversion=2 sends UTF-8 as is and leaves <, > and & unescaped, so clients must escape for HTML.
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    extra = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, must-revalidate, max-age=0"}
    return Reply(status, payload, "application/json; charset=utf-8", {**extra, **(headers or {})})


def html_reply(status: int, title: str, body_html: str) -> Reply:
    """An HTML page around `body_html`."""
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - WikiRoam sample wiki</title></head>\n<body>\n{body_html}\n</body></html>\n"
    )
    return Reply(status, document.encode())
