"""ETags for cacheable GET responses: a hash of the JSON body; ``If-None-Match`` → 304."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel


def etag_response(request: Request, body: BaseModel | Sequence[BaseModel]) -> Response:
    content = jsonable_encoder(body)
    resp = JSONResponse(content)
    tag = 'W/"' + hashlib.sha256(resp.body).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "no-cache", "Vary": "Authorization"}
    match = request.headers.get("if-none-match", "")
    if tag in {t.strip() for t in match.split(",")}:
        return Response(status_code=304, headers=headers)
    resp.headers.update(headers)
    return resp
