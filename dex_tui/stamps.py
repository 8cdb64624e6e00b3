"""The dates and times an answers file records (``at``: when someone confirmed or acknowledged
something), read one way: ISO 8601 or a TOML date-time, normalised to UTC (``2026-11-24T10:00:00Z``),
and refused when it lies in the future.

A time without an offset is taken as UTC (the README says the times are UTC); one with another offset
is converted (``11:00:00+01:00`` -> ``10:00:00Z``), so every file, report and audit record compares
the same instants the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dex_tui.errors import UsageError

# A file written on another machine a little ahead of this one is not "in the future".
CLOCK_TOLERANCE = timedelta(minutes=5)


def utc_iso(moment: datetime) -> str:
    """``moment`` in UTC, whole seconds, with a ``Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_moment(value: object, where: str) -> datetime:
    """The instant ``value`` names (a TOML date-time or an ISO 8601 string), in UTC; a UsageError
    naming ``where`` otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{where} = {value[:40]!r} is not an ISO 8601 date and time, e.g. "
                             "2026-11-24T10:00:00Z.") from None
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        raise UsageError(f"{where} must be a date and time, e.g. 2026-11-24T10:00:00Z.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_stamp(value: object, where: str) -> str:
    """``value`` as a UTC stamp (``2026-11-24T10:00:00Z``); see :func:`parse_moment`."""
    return utc_iso(parse_moment(value, where))


def refuse_future(stamp: str, where: str, now: datetime) -> None:
    """A UsageError naming ``where`` when ``stamp`` (a UTC stamp) is later than ``now`` (allowing
    :data:`CLOCK_TOLERANCE`): a decision cannot have been recorded after the file was read."""
    if parse_moment(stamp, where) > now.astimezone(UTC) + CLOCK_TOLERANCE:
        raise UsageError(f"{where} = {stamp} is in the future (it is {utc_iso(now)} now); record when it "
                         "really happened, in UTC.")
