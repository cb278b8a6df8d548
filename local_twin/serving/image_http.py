"""What the image's HTTP stack does differently from the local Flask 3 / Werkzeug 3, reproduced for both modes.

The image runs Python 3.10's ``cgi.parse_header``, Flask 1.1.1 and Werkzeug 0.15.6 behind nginx (research document
xgboost_serving.md, sections 1 and A.2). Left to Werkzeug 3, the local server would send other error pages (another
HTML text, ``text/html; charset=utf-8``), limit bodies without a Content-Type, and parse headers its own way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

# nginx.conf.template: only these prefixes reach the app; every other path is nginx's own `return 404 "{}"`.
NGINX_LOCATION = re.compile(r"^/(ping|invocations|execution-parameters)")
# Werkzeug 0.15.6 FormDataParser.parse_functions: bodies of these types are consumed as form data.
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded", "application/x-url-encoded")


def _parseparam(text: str) -> Iterator[str]:
    while text[:1] == ";":
        text = text[1:]
        end = text.find(";")
        while end > 0 and (text.count('"', 0, end) - text.count('\\"', 0, end)) % 2:
            end = text.find(";", end + 1)
        if end < 0:
            end = len(text)
        yield text[:end].strip()
        text = text[end:]


def parse_header(line: str) -> tuple[str, dict[str, str]]:
    """``cgi.parse_header`` (gone from Python 3.13): the value as sent, parameter names lower-cased."""
    parts = _parseparam(";" + line)
    key = next(parts)
    params: dict[str, str] = {}
    for part in parts:
        index = part.find("=")
        if index >= 0:
            value = part[index + 1 :].strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace("\\\\", "\\").replace('\\"', '"')
            params[part[:index].strip().lower()] = value
    return key, params


def request_data(max_content_length: int | None) -> bytes:
    """``flask.request.data`` as Werkzeug 0.15.6 reads it: only a request *with* a Content-Type is parsed as a form,
    which limits it to ``MAX_CONTENT_LENGTH`` (413) and leaves nothing of a form-typed body (A.2: 204)."""
    stream = get_input_stream(request.environ, max_content_length=None)  # Werkzeug 3 would limit every body
    if request.environ.get("CONTENT_TYPE"):
        length = request.content_length
        if max_content_length is not None and length is not None and length > max_content_length:
            raise RequestEntityTooLarge()
        if request.mimetype in FORM_TYPES:
            stream.read()
            return b""
    return stream.read()


def error_page(error: HTTPException) -> Response:
    """Werkzeug 0.15.6's page for an HTTP error (``text/html``, no charset), or nginx's 404 outside its locations."""
    if error.code == 404 and not NGINX_LOCATION.match(request.path):
        return Response("{}", status=404, content_type="application/octet-stream")
    code = error.code or 500
    body = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n'
        f"<title>{code} {escape(error.name)}</title>\n"
        f"<h1>{escape(error.name)}</h1>\n"
        f"<p>{escape(error.description or '')}</p>\n"
    )
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
    return Response(body, status=code, headers=headers, content_type="text/html")


def use_image_error_pages(app: Flask) -> None:
    """Every HTTP error of ``app``, including the 500 of an unhandled exception, answered as the image does."""
    app.register_error_handler(HTTPException, error_page)
