"""A service's ValidationError, shown on a page: the one conversion every view uses."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

NON_FIELD = "__all__"


def error_dict(error: ValidationError) -> dict[str, list[str]]:
    """{field: [messages]}, with "__all__" for errors that name no field."""
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
    return {NON_FIELD: [str(m) for m in error.messages]}


def error_messages(error: ValidationError) -> list[str]:
    """One line per field ("field: message …"), for pages that list errors without a form."""
    return [" ".join(messages) if field == NON_FIELD else f"{field}: {' '.join(messages)}" for field, messages in error_dict(error).items()]


def apply_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put the errors on the form fields they name; the rest (and unknown fields) on the form itself."""
    for field, messages in error_dict(error).items():
        form.add_error(field if field in form.fields else None, messages)
