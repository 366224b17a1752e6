"""Domain errors of the standardiser.

Every message passes through the redactor (:func:`core.privacy.redact`), so even a careless caller
cannot put a raw ID number (身份证号) or phone number into an exception, a log line or a dead letter.
"""

from __future__ import annotations

from core.privacy import mask_id_number, redact


class StandardiseError(ValueError):
    """Base of the standardiser's errors; the message is masked on the way in."""

    def __init__(self, message: str) -> None:
        self.message = redact(message)
        super().__init__(self.message)


class InvalidIdNumber(StandardiseError):
    """A citizen ID number (公民身份号码) that fails GB 11643 checks."""

    def __init__(self, value: str, reason: str) -> None:
        self.masked = mask_id_number(value)
        self.reason = reason
        super().__init__(f"invalid ID number {self.masked}: {reason}")


class UnreadableDate(StandardiseError):
    """A date in a form the parser does not know."""

    def __init__(self, value: object, reason: str = "not a date form the standardiser knows") -> None:
        self.reason = reason
        super().__init__(f"unreadable date {str(value)!r}: {reason}")


class ImplausibleDate(UnreadableDate):
    """A well-formed date that cannot be a resident's: in the future or before 1890."""


class UnknownCodeValue(StandardiseError):
    """A value that is in no row of a code table (sex, ethnicity, relation, marital status…)."""

    def __init__(self, table: str, value: object) -> None:
        self.table = table
        self.value = str(value)
        super().__init__(f"{str(value)!r} is not a known {table} value")


class CannotStandardise(StandardiseError):
    """A source record that cannot become a resident record (e.g. nothing identifies anyone)."""

    def __init__(self, reason: str, *, source: str = "", record_id: str = "") -> None:
        self.reason = redact(reason)
        where = f" ({source}:{record_id})" if source or record_id else ""
        super().__init__(f"cannot standardise record{where}: {reason}")
