"""Errors that name the record, turn and field at fault."""

from __future__ import annotations


class MMShieldError(Exception):
    """Base class of every error mmshield raises on purpose."""


class InputError(MMShieldError, ValueError):
    """Bad input: names the record id, the turn index and the field so the user can fix it."""

    def __init__(
        self,
        message: str,
        *,
        record: str | int | None = None,
        turn: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.record = record
        self.turn = turn
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.turn is not None:
            where.append(f"turn {self.turn}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def to_dict(self) -> dict:
        return {
            "type": type(self).__name__,
            "message": self.message,
            "record": self.record,
            "turn": self.turn,
            "field": self.field,
        }


class ImageError(InputError):
    """An image could not be loaded: missing, corrupt, too large, or a refused URL."""


class BackendError(MMShieldError):
    """A backend could not produce a verdict (server error, unparsable model output...)."""


class ModelOutputError(BackendError):
    """Model output that is not a valid verdict under the policy in force (fail closed)."""
