"""The part of the MediaWiki Action API WikiRoam uses, answered like MediaWiki 1.39 from the sample wiki's corpus.

`main` is ApiMain (checks, errors, the answer's top level), `query` is action=query and its continuation,
`pageset` the pages a query works on; the query modules come in families: `props` (info, extracts, pageimages),
`links` (links, linkshere, redirects, backlinks) and `search`.
"""

from __future__ import annotations

from local.samplewiki.api.main import HELP_TEXT, SERVED_BY, Api

__all__ = ["HELP_TEXT", "SERVED_BY", "Api"]
