"""One error root: every exception class pilegate defines derives from PilegateError, and a
class that used to be a built-in error still is one, so callers' except clauses keep working."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from billing.tariff import TariffError
from gateway.config import ConfigError
from gateway.storage.writer import StorageClosed
from protocol import EncodeError, PilegateError
from protocol.ykc.errors import YkcEncodeError
from sessions.errors import ImpossibleTransition

LAYERS = ("protocol", "sessions", "billing", "gateway")


def _modules(package: str) -> list[str]:
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if ".migrations" not in info.name:  # Alembic scripts import alembic's `op` context
            names.append(info.name)
    return names


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for package in LAYERS:
        for name in _modules(package):
            module = importlib.import_module(name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == name and issubclass(cls, BaseException):
                    found.append(cls)
    return found


def test_every_exception_class_has_the_root() -> None:
    classes = _exception_classes()
    assert len(classes) >= 20  # the walk found the layers' errors
    orphans = [
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, PilegateError)
    ]
    assert orphans == []


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (TariffError, ValueError),
        (ConfigError, ValueError),
        (EncodeError, ValueError),
        (YkcEncodeError, ValueError),
        (StorageClosed, RuntimeError),
    ],
)
def test_builtin_bases_are_kept(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, PilegateError)
    assert issubclass(cls, builtin)


def test_session_rejection_is_caught_by_the_root() -> None:
    with pytest.raises(PilegateError):
        raise ImpossibleTransition(None, "stop")
