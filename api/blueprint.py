"""The Blueprint and the id converter every API resource uses."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter, Map

#: Ids are 32-bit on every backend; anything larger can name nothing.
MAX_ID = 2**31 - 1


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint whose arguments honour each schema's ``unknown = RAISE``.

    webargs drops unknown query parameters by default; a client that misspells a filter must
    hear about it rather than get an unfiltered list.
    """

    ARGUMENTS_PARSER = FlaskParser(unknown=None)


class IdConverter(IntegerConverter):
    """``<id:name>`` in a URL: 1 to 2³¹-1; anything else matches no route (404)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def id_parameter_schema(converter: IdConverter) -> dict[str, Any]:
    """The OpenAPI schema of an ``<id:...>`` path parameter."""
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
