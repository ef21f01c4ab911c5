"""The cells a report row shares with its group: Template through Carrier Response.

They are formatted in Python once per distinct combination, with the real wording of each cell
(template and key names, :func:`notify.statuses.label`, the time in the service's timezone) and
written by :func:`~notify.reports.cells.csv_cell`, then repeated for every row of the group.
Nothing here is a recipient: these are service data, so memoising them is safe.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.reports.cells import csv_cell
from notify.reports.query import RowGroup
from notify.statuses import label

__all__ = ["RowDetails", "load_row_details"]

SPREADSHEET_SENDER = "Spreadsheet upload"
_MEMO_LIMIT = 50_000
Key = TypeVar("Key")


@dataclass
class RowDetails:
    """Formats a group's shared cells.

    ``templates`` maps each of the service's template versions to its name and type (a
    notification's type is its template's); ``keys`` maps API keys to their names.
    """

    templates: dict[tuple[uuid.UUID, int], tuple[str, str]]
    keys: dict[uuid.UUID, str]
    zone: ZoneInfo

    def __post_init__(self) -> None:
        # Most groups differ from the last one in one cell (a job's time, a status), so each
        # cell is memoised on its own and a group costs a few dictionary lookups and a join.
        self._cells: dict[str | None, str] = {}
        self._labels: dict[tuple[str, str, str | None], str] = {}
        self._times: dict[datetime, str] = {}

    def cells(self, group: RowGroup, *, upload: bool, file_name: str | None) -> str:
        """The seven cells from Template to Carrier Response, as one CSV fragment."""
        template, notification_type = self.templates.get((group.template_id, group.template_version), ("", ""))
        sent_by = self.keys.get(group.api_key_id) if group.api_key_id is not None else None
        if sent_by is None:
            sent_by = SPREADSHEET_SENDER if upload else ""
        return ",".join(
            (
                self._cell(template),
                self._cell(sent_by),
                self._cell(group.carrier),
                self._label(notification_type, group.status, group.provider_response),
                self._time(group.created_at),
                self._cell(file_name),
                self._cell(group.provider_response),
            )
        )

    def time(self, moment: datetime) -> str:
        """ISO 8601 in the service's timezone, to the second, with the UTC offset: 2026-03-09T14:05:00-04:00."""
        return moment.astimezone(self.zone).isoformat(timespec="seconds")

    def _cell(self, value: str | None) -> str:
        found = self._cells.get(value)
        if found is None:
            found = _remember(self._cells, value, csv_cell(value or ""))
        return found

    def _label(self, notification_type: str, status: str, response: str | None) -> str:
        key = (notification_type, status, response)
        found = self._labels.get(key)
        if found is None:
            found = _remember(self._labels, key, csv_cell(label(notification_type, status, response)))
        return found

    def _time(self, moment: datetime) -> str:
        found = self._times.get(moment)
        if found is None:
            found = _remember(self._times, moment, csv_cell(self.time(moment)))
        return found


def _remember(memo: dict[Key, str], key: Key, value: str) -> str:
    """Store ``value``, first emptying ``memo`` if it has grown large (free-text cells can be many)."""
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value
    return value


async def load_row_details(conn: AsyncConnection, service_id: uuid.UUID, timezone: str) -> RowDetails:
    """The service's template versions and key names (a few rows), and its timezone."""
    templates = {
        (row.template_id, row.version): (row.name, row.template_type)
        for row in await conn.execute(
            text("SELECT template_id, version, name, template_type::text AS template_type FROM template_versions "
                 "WHERE service_id = :s"),
            {"s": service_id},
        )
    }
    keys = {
        row.id: row.name
        for row in await conn.execute(text("SELECT id, name FROM api_keys WHERE service_id = :s"), {"s": service_id})
    }
    return RowDetails(templates, keys, ZoneInfo(timezone))
