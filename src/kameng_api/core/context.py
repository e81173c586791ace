"""Per-request context variables (request id) shared by logging and error rendering."""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
