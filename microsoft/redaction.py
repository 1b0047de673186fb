"""Keeping secrets out of Django's error reports when this package runs inside Django.

The package needs no Django. Where Django is installed, its ``sensitive_variables`` marks the
functions whose local variables (client secrets, assertions, tokens) an error report must hide;
it is looked up by name so that importing this package never requires Django.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def _identity(*names: str) -> Callable[[F], F]:
    return lambda function: function


try:
    sensitive_variables: Callable[..., Callable[[F], F]] = importlib.import_module(
        "django.views.decorators.debug"
    ).sensitive_variables
except ImportError:  # outside Django there is no error report to redact
    sensitive_variables = _identity
