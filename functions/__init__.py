"""WikiRoam's deployed code: the Lambda handlers and what they share.

Three layers, each importing only the ones below it:

| handler (`functions/handlers/`) | logic | data and messaging access |
|---|---|---|
| `api.handler` | `pages.PageService` | `store.PageStore`, `.LinkStore`, `messaging.CacheRequestPublisher`, `wiki` |
| `trigger.handler` | `trigger.Trigger` | `messaging.PipelineRunner`, `messaging.CacheRequestPublisher` |
| `cache_steps.start`, `.info`, `.backlinks` | `caching.CacheSteps` | `store.PageStore`, `store.LinkStore`, `wiki` |
| `shipper.handler` | `shipping.Shipper` | the OTLP endpoint (`shipping.export.RequestsTransport`) |

The wiki client is `wiki` (with `wiki_backlinks`, its listing of backlinks through redirects). Beside them:
`contract` (the names code and infrastructure share), `messages` (the pure message shapes),
`settings` (each function's environment, read once), `errors`, `backoff`, and `telemetry` (the one module that
configures OpenTelemetry).
"""

__version__ = "0.1.0"
