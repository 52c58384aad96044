"""A console form read into the API's own request model, so a form is held to exactly the
API's rules and a bad field gets the API's message, naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import pydantic

from incident_service.auth.sessions import CSRF_FIELD
from incident_service.errors import ValidationFailed

M = TypeVar("M", bound=pydantic.BaseModel)


def parse(model: type[M], form: Mapping[str, object], **fixed: object) -> M:
    """`form`'s fields (an empty one counts as not given) and `fixed`, as `model`."""
    values = {k: v for k, v in form.items() if k != CSRF_FIELD and v not in ("", None)}
    try:
        return model.model_validate({**values, **fixed})
    except pydantic.ValidationError as exc:
        errors = [
            {
                "key": ".".join(str(p) for p in e["loc"]) or "form",
                "message": e["msg"],
                "source": "body",
            }
            for e in exc.errors()
        ]
        names = ", ".join(e["key"] for e in errors)
        raise ValidationFailed(f"the form is not valid: {names}", errors) from exc
