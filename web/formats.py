"""Numbers and dates as Vietnamese readers write them, for the page, the feed and the terminal.

Article dates are stored as the source wrote them: a day ("2021-01-14") or a wall-clock
time without an offset ("2021-01-14T14:15:00", the reader drops "(GMT+7)"). The news is
Vietnamese, so those are Vietnam's clock, UTC+7 all year (no daylight saving): "2 giờ
trước" is reckoned against that clock, wherever the server runs.
"""
from __future__ import annotations

import datetime as dt

VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")
# Older than this, a relative time ("9 ngày trước") says less than the date itself; an
# archive of 2020 shows its dates.
RELATIVE_DAYS = 7
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def vn_number(value: float, decimals: int = 0) -> str:
    """Thousands separated by dots and decimals by a comma, as in Vietnamese: 22.643, 1,9."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


class Published:
    """An article's stored date, read once: the moment, and whether the time of day is known."""

    __slots__ = ("moment", "has_time")

    def __init__(self, value: str):
        self.moment = dt.datetime.fromisoformat(value)
        self.has_time = "T" in value or " " in value.strip()
        if self.moment.tzinfo is not None:  # not written by our readers, but JSON may hold one
            self.moment = self.moment.astimezone(VIETNAM).replace(tzinfo=None)

    @classmethod
    def parse(cls, value: str | None) -> "Published | None":
        try:
            return cls(value) if value else None
        except ValueError:
            return None

    def full(self, weekday: bool = False) -> str:
        """15/12/2020, 13:57 (with the weekday first, as article pages print it)."""
        shown = self.moment.strftime("%d/%m/%Y") + (self.moment.strftime(", %H:%M") if self.has_time else "")
        return f"{WEEKDAYS[self.moment.weekday()]}, {shown}" if weekday else shown

    def relative(self, now: dt.datetime) -> str:
        """How Vietnamese news sites date a recent article in a list: "25 phút trước", "2 giờ
        trước", "Hôm qua, 16:20", "3 ngày trước"; the day (15/12/2020) when older than a week
        or in the future."""
        days = (now.date() - self.moment.date()).days
        day = self.moment.strftime("%d/%m/%Y")
        if days < 0 or days > RELATIVE_DAYS:
            return day
        if self.has_time:
            seconds = (now - self.moment).total_seconds()
            if seconds < 0:
                return day
            if seconds < 60:
                return "Vừa xong"
            if seconds < 3600:
                return f"{int(seconds // 60)} phút trước"
            if seconds < 86400:
                return f"{int(seconds // 3600)} giờ trước"
            if days == 1:
                return self.moment.strftime("Hôm qua, %H:%M")
        elif days == 0:
            return "Hôm nay"
        elif days == 1:
            return "Hôm qua"
        return f"{days} ngày trước"

    def instant(self) -> dt.datetime:
        """The moment with Vietnam's offset (2020-12-15T13:57:00+07:00), as Atom wants it."""
        return self.moment.replace(tzinfo=VIETNAM)


def vietnam_now(clock: str | None = None) -> dt.datetime:
    """Now on Vietnam's clock, without an offset like the stored dates; `clock` (ISO 8601,
    read as Vietnam's time unless it has an offset) fixes it, for tests and screenshots."""
    if clock:
        fixed = dt.datetime.fromisoformat(clock)
        return fixed.astimezone(VIETNAM).replace(tzinfo=None) if fixed.tzinfo else fixed
    return dt.datetime.now(VIETNAM).replace(tzinfo=None)
