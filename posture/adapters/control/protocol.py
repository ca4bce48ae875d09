"""The control channel's wire format, whatever carries it (a Unix socket today).

One exchange per connection: the client sends one JSON object and a newline; the server
answers one JSON object and a newline. Replies carry `"ok": true|false`; a failed request
has `"error": "<one line>"`. A malformed, oversized or failing request costs only that
request: it gets an error reply, never an exception in the server.

Requests: `{"cmd": "status"}` (the reply is `posture.core.status.Status`'s JSON object
with `"ok"`), `{"cmd": "pause", "seconds": S | null}`, `{"cmd": "resume"}`,
`{"cmd": "snooze", "seconds": S}`, `{"cmd": "stop"}`. `resume` ends a snooze as well as a
pause; `{"cmd": "resume", "keep_snooze": true}` ends the pause only (how `posture preview`
and `posture calibrate` give back the camera they borrowed).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from posture.errors import PostureError
from posture.ports import ControlHandler

log = logging.getLogger(__name__)

#: The largest request the server reads; anything longer is refused.
MAX_REQUEST = 64 * 1024
#: The largest reply the client reads.
MAX_REPLY = 1024 * 1024


def encode(message: dict[str, Any]) -> bytes:
    """One message as its line on the wire."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode_reply(line: bytes) -> dict[str, Any]:
    """The server's reply line as a dict; `PostureError` when it is empty or not one JSON
    object."""
    if not line.strip():
        raise PostureError("the posture monitor closed the connection without an answer")
    try:
        decoded = json.loads(line)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError too
        raise PostureError("the posture monitor sent a malformed reply (not JSON)") from err
    if not isinstance(decoded, dict):
        raise PostureError("the posture monitor sent a malformed reply (not a JSON object)")
    return decoded


def answer(handler: ControlHandler, raw: bytes) -> dict[str, Any]:
    """The reply to one request line: the handler's, or an error reply when the line is
    not a JSON object or the handler fails (a `PostureError` is its message; anything
    else is logged as the bug it is)."""
    try:
        message = json.loads(raw)
    except ValueError:
        return {"ok": False, "error": "invalid request: not JSON"}
    except RecursionError:  # "[[[[…]]]]" under the size limit: the parser's stack, not ours
        return {"ok": False, "error": "invalid request: nested too deeply"}
    if not isinstance(message, dict):
        return {"ok": False, "error": "invalid request: not a JSON object"}
    try:
        reply = handler(message)
    except PostureError as err:
        return {"ok": False, "error": str(err)}
    except Exception as err:
        log.exception("control: the handler failed on %r", message)
        return {"ok": False, "error": f"internal error: {type(err).__name__}: {err}"}
    if not isinstance(reply, dict):
        log.error("control: the handler returned %r, not a dict", type(reply).__name__)
        return {"ok": False, "error": "internal error: the handler returned no reply"}
    return reply


def encode_reply(reply: dict[str, Any]) -> bytes:
    """A reply's line; one that cannot be JSON becomes an error reply."""
    try:
        return encode(reply)
    except (TypeError, ValueError) as err:
        log.error("control: the reply cannot be sent as JSON: %s", err)
        return encode({"ok": False, "error": "internal error: the reply is not JSON"})


TOO_LARGE: dict[str, Any] = {"ok": False, "error": "request too large"}
