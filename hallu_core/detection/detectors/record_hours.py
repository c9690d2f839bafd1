"""Opening-hours claims ("open Monday through Friday from 9 to 5", "closed on Sundays") found in one
sentence and judged against a Yelp record's hours table (record_claims.py's other claims are simpler)."""
from __future__ import annotations

import re

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?s?\.?"
_RANGE_SEP = r"\s*(?:-|–|to|through|thru|until|till)\s*"
_DAY_RANGE = re.compile(rf"\b({_DAY}){_RANGE_SEP}({_DAY})(?!\w)", re.I)
_DAY_WORD = re.compile(rf"\b({_DAY})(?!\w)|\b(weekdays?|weekends?)\b|"
                       r"\b(seven days a week|7 days a week|every day(?: of the week)?|daily|all week)\b", re.I)
_CLOCK = r"(\d{1,2})(?::(\d{2}))?\s*(a\.?\s?m\.?|p\.?\s?m\.?)?"
_TIME_RANGE = re.compile(rf"\b{_CLOCK}{_RANGE_SEP}{_CLOCK}(?!\w)", re.I)
_HOURS_VERB = re.compile(r"(?:\b(?:is|are)\s+)?\b(?:open(?:s|ing)?|operat(?:es?|ing)|hours(?: are)?)\s+(?:from\s+)?$", re.I)
_CLOSED = re.compile(r"\bclosed\b", re.I)


def parse_hours(hours) -> dict[str, tuple[int, int]] | None:
    """A Yelp hours table ({"Monday": "9:0-17:0"}) as open day -> (open, close) in minutes; None when not given."""
    if not isinstance(hours, dict):
        return None
    out = {}
    for day, span in hours.items():
        m = re.fullmatch(r"(\d+):(\d+)-(\d+):(\d+)", str(span).strip())
        if day.lower() in DAYS and m:
            h1, m1, h2, m2 = map(int, m.groups())
            if (h1, m1, h2, m2) != (0, 0, 0, 0):  # Yelp's "0:0-0:0": annotators read it as not open
                out[day.lower()] = (h1 * 60 + m1, (h2 * 60 + m2) or 24 * 60)
    return out


def _clock(hour: str, minute: str | None, half: str | None) -> int | None:
    h, mins = int(hour), int(minute or 0)
    half = (half or "").lower().replace(".", "").replace(" ", "")
    if h > 24 or mins > 59:
        return None
    if half == "pm" and h < 12:
        h += 12
    elif half == "am" and h == 12:
        h = 0
    return h * 60 + mins


def _days_of(m: re.Match) -> set[str]:
    def index(token: str) -> int:
        return next(i for i, d in enumerate(DAYS) if token.lower().startswith(d[:3]))
    if m.re is _DAY_RANGE:
        a, b = index(m.group(1)), index(m.group(2))
        return {DAYS[(a + k) % 7] for k in range((b - a) % 7 + 1)}
    if m.group(1):
        return {DAYS[index(m.group(1))]}
    if m.group(2):
        return set(DAYS[:5]) if m.group(2).lower().startswith("weekday") else {"saturday", "sunday"}
    return set(DAYS)


def hours_claims(text: str, start: int, end: int, hours: dict | None) -> list[tuple[int, int, str, str]]:
    """Day groups and time ranges in one sentence, paired in the order the sentence uses, judged against
    `hours` (parse_hours' table): (start, end, verdict, what the record says) per claim."""
    sent = text[start:end]
    events, taken = [], []
    for m in list(_DAY_RANGE.finditer(sent)) + list(_DAY_WORD.finditer(sent)):
        if not any(s < m.end() and m.start() < e for s, e in taken):
            taken.append((m.start(), m.end()))
            events.append((m.start(), m.end(), "days", _days_of(m)))
    for m in _TIME_RANGE.finditer(sent):
        h1, m1, a1, h2, m2, a2 = m.groups()
        if not (a1 or a2 or m1 or m2):
            continue  # "2 to 3" is no time
        opens, closes = _clock(h1, m1, a1 or a2), _clock(h2, m2, a2)
        if not a1 and a2 and opens is not None and closes is not None and opens > closes:
            opens = _clock(h1, m1, None)  # "11-9pm": the first is morning
        if opens is not None and closes is not None:
            events.append((m.start(), m.end(), "time", (opens, closes or 24 * 60)))
    events.sort()
    out = []
    for lo, hi, days, time in _pair(sent, events):
        verb = _HOURS_VERB.search(sent[max(0, lo - 30):lo])  # take "is open from" into the span
        lo = max(0, lo - 30) + verb.start() if verb else lo
        closed = days is not None and time is None and bool(_CLOSED.search(sent[max(0, lo - 25):hi + 40]))
        out.append((start + lo, start + hi, _judge_hours(hours, days, time, closed), _describe(hours, days)))
    return out


def _judge_hours(hours: dict | None, days: set | None, time: tuple | None, closed: bool) -> str:
    if hours is None:
        return "baseless"
    if closed:  # "closed on Mondays"
        return "conflict" if any(d in hours for d in days) else "supported"
    claimed = days if days is not None else set(hours)
    if any(d not in hours for d in claimed):
        return "conflict"
    if time is None:
        return "supported"
    if days is None:  # "open 11 to 9" with no day: right if some day keeps those hours
        return "supported" if time in set(hours.values()) else "conflict"
    return "supported" if all(hours[d] == time for d in claimed) else "conflict"


def _pair(sent: str, events: list) -> list[tuple[int, int, set | None, tuple | None]]:
    """Merge neighbouring day mentions ("Saturday and Sunday"), then give each time range the
    day group right beside it ("Monday to Friday from 9 to 5", "from 9 to 5 on Sundays"),
    the nearer one when both qualify. What stays unpaired is a claim of its own."""
    def gap(a, b) -> int | None:  # characters between two events, None when they cannot pair
        text = sent[a[1]:b[0]]
        return len(text) if len(text) <= 12 and not re.search(r"\b(?:and|with|but)\b|[;.]", text) else None

    merged = []
    for k, ev in enumerate(events):
        nxt = events[k + 1] if k + 1 < len(events) else None
        own_time = nxt is not None and nxt[2] == "time" and gap(ev, nxt) is not None  # "Sunday from 12 to 7"
        if (merged and ev[2] == "days" == merged[-1][2] and not own_time
                and re.fullmatch(r"[\s,]*(?:and|or|&)?\s*", sent[merged[-1][1]:ev[0]])):
            s, _, kind, days = merged[-1]
            merged[-1] = (s, ev[1], kind, days | ev[3])
        else:
            merged.append(ev)

    paired: dict[int, int] = {}
    for i, ev in enumerate(merged):
        if ev[2] != "time":
            continue
        options = [(gap(merged[j], ev) if j < i else gap(ev, merged[j]), j) for j in (i - 1, i + 1)
                   if 0 <= j < len(merged) and merged[j][2] == "days" and j not in paired]
        options = [(g, -j) for g, j in options if g is not None]
        if options:
            j = -min(options)[1]
            paired[j], paired[i] = i, j
    out, done = [], set()
    for i, ev in enumerate(merged):
        if i in done:
            continue
        j = paired.get(i)
        if j is None:
            out.append((ev[0], ev[1], ev[3] if ev[2] == "days" else None, ev[3] if ev[2] == "time" else None))
            continue
        done.add(j)
        days, time = (ev, merged[j]) if ev[2] == "days" else (merged[j], ev)
        out.append((min(ev[0], merged[j][0]), max(ev[1], merged[j][1]), days[3], time[3]))
    return out


def _describe(hours: dict | None, days: set | None) -> str:
    if hours is None:
        return "hours: null"

    def one(day: str) -> str:
        if day not in hours:
            return f"{day.title()} closed"
        opens, closes = hours[day]
        return f"{day.title()} {opens // 60}:{opens % 60:02d}-{closes // 60}:{closes % 60:02d}"
    return "hours: " + ", ".join(one(d) for d in DAYS if days is None or d in days)
