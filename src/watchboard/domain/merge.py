"""Deciding whether a new report is a new incident or another mention of an open one.

A report merges into an open incident (DESIGN.md §4.3), tried in this order:

1. `incident_id` — the monitor named the incident. A closed incident refuses (`Conflict`):
   a closed incident is not reopened behind the duty room's back; leave the id out to open
   a new one. An id intake does not know is `NotFound`.
2. `url` — the normalised URL (below) of any mention of an open incident. Closed incidents
   do not merge by URL either: the same post drawing attention again after the incident was
   closed is renewed attention, and belongs on the board as a new incident, not as a silent
   mention of a closed one.
3. `title` — a near-identical normalised title (character-bigram Dice ≥ `title_similarity`)
   of an open incident in the same region (normalised; a report without a region only
   matches incidents without one), last seen within `window` of the report's time
   (`observed_at`, or `now` when absent). Titles shorter than `title_min_chars` after
   normalisation never merge by title: "视频", "突发" say nothing about which incident.

Otherwise the report opens a new incident.

Title similarity: the Sørensen–Dice coefficient of the sets of character bigrams of the two
normalised titles. Chinese has no spaces, so words are not available, but adjacent character
pairs capture most two-character words; one changed character costs at most two bigrams, so
"某镇中学食堂使用过期食材" vs "某镇中学食堂用过期食材" scores 0.86, while unrelated titles on
the same topic score well under 0.5. It is also what makes the index fast: with an inverted
index from (region, bigram) to title entries, counting the postings hit by a new title gives
each candidate's shared-bigram count directly, so a report costs one dictionary look-up per
bigram plus the size of the postings hit — never one comparison per open incident.

Title normalisation (`normalize_title`): NFKC (folds full-width Ａ１！ to A1!), casefold,
drop everything that is not a letter or a digit (Chinese and ASCII punctuation, symbols,
emoji, all whitespace; `#话题#` keeps its words, loses its marks), then drop leading hedge
markers a monitor adds or omits at will — 网传 ("it is said online"), 网曝, 突发, 快讯,
热搜 …: "【网传】某镇…" and "某镇…" report the same incident. Only leading markers are dropped,
so a title's own words are never touched.

URL normalisation (`normalize_url`): scheme folded to https (the same post over http and
https), host lower-cased without `www.` and without a default port, fragment dropped unless
it is a hash route (`#/…`, `#!…`), query parameters that only track sharing removed
(`utm_*`, `spm`, `share_*`, WeChat `chksm`/`scene`, … — `tracking_params` in intake.toml,
`*` suffix = prefix) and the rest sorted, a trailing `/` dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from watchboard.config.intake import DEFAULT_PREFIXES, DEFAULT_TRACKING, MergeConfig
from watchboard.domain.errors import Conflict, NotFound
from watchboard.domain.events import Event, IncidentClosed, IncidentReported, MentionAdded
from watchboard.domain.report import Report

MergedBy = Literal["incident_id", "url", "title"]

MAX_POSTING = 64  # a bigram in more titles than this is too common to find candidates by
MAX_TITLES_PER_INCIDENT = 8  # title variants indexed per incident (first title + mention titles)


DEFAULT_MERGE = MergeConfig()  # intake.toml's `[merge]` table is `watchboard.config.intake`


# --- normalisation and similarity -------------------------------------------------------

_NOT_WORD = re.compile(r"[\W_]+")  # \W is "not a letter or digit" in Unicode mode


def normalize_title(title: str, prefixes: Iterable[str] = DEFAULT_PREFIXES) -> str:
    """The key titles are compared by: NFKC, casefolded, letters and digits only, no hedges."""
    key = _NOT_WORD.sub("", unicodedata.normalize("NFKC", title).casefold())
    stripped = True
    while stripped:  # "【突发】网传…": several markers may lead
        stripped = False
        for prefix in prefixes:
            if key.startswith(prefix) and len(key) > len(prefix):
                key = key[len(prefix):]
                stripped = True
    return key


def normalize_region(region: str | None) -> str:
    """'仲山镇 ' and '仲山镇' are one region; None is the region "" (unknown)."""
    return "" if not region else _NOT_WORD.sub("", unicodedata.normalize("NFKC", region).casefold())


def bigrams(key: str) -> frozenset[str]:
    """Character bigrams of a normalised title (a one-character key is its own 'bigram')."""
    if len(key) < 2:
        return frozenset((key,)) if key else frozenset()
    return frozenset(key[i:i + 2] for i in range(len(key) - 1))


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def similarity(a: str, b: str, prefixes: Iterable[str] = DEFAULT_PREFIXES) -> float:
    """Bigram Dice similarity of two titles after normalisation, in [0, 1]."""
    prefixes = tuple(prefixes)
    return dice(bigrams(normalize_title(a, prefixes)), bigrams(normalize_title(b, prefixes)))


def _is_tracking(name: str, tracking: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(lowered.startswith(t[:-1]) if t.endswith("*") else lowered == t for t in tracking)


def normalize_url(url: str, tracking: Iterable[str] = DEFAULT_TRACKING) -> str:
    """The key URLs are compared by (see the module docstring); never shown to anyone."""
    tracking = tuple(tracking)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "http":
        scheme = "https"
    host = (parts.hostname or "").lower().removeprefix("www.")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _is_tracking(k, tracking)))
    fragment = parts.fragment if parts.fragment.startswith(("/", "!")) else ""
    return urlunsplit((scheme, host, path, query, fragment))


# --- the index --------------------------------------------------------------------------


class MergeDecision(msgspec.Struct, frozen=True, kw_only=True):
    """Where a report goes: `incident_id` None means a new incident.

    `score` is 1.0 for a merge by id or URL, the title similarity for a merge by title, and
    for a new incident the best title similarity that fell short (0.0 if none was close).
    """

    incident_id: str | None
    merged_by: MergedBy | None
    score: float = 0.0


@dataclass
class _Open:
    id: str
    region: str
    last_seen: datetime
    urls: set[str] = field(default_factory=set)
    entries: list[int] = field(default_factory=list)  # title entry ids


@dataclass(frozen=True)
class _Entry:
    incident_id: str
    key: str
    grams: frozenset[str]


class MergeIndex:
    """The open incidents as merging needs them, kept by folding intake's events (`apply`).

    Pure and in-memory: intake rebuilds it on start by replaying its own events (or from its
    store) and feeds it every event it emits. Costs: `decide` is O(bigrams of the new title
    + postings hit); `apply` is O(bigrams of the title).
    """

    def __init__(self, config: MergeConfig = DEFAULT_MERGE) -> None:
        self.config = config
        self._prefixes = tuple(config.title_prefixes)
        self._tracking = tuple(config.tracking_params)
        self._window = config.window_delta()
        self._open: dict[str, _Open] = {}
        self._closed: set[str] = set()
        self._by_url: dict[str, str] = {}
        self._entries: dict[int, _Entry] = {}
        self._postings: dict[tuple[str, str], set[int]] = {}
        self._next_entry = 0

    # queries -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._open)

    def knows(self, incident_id: str) -> bool:
        """Whether intake has seen this incident (open or closed): `known_incident` for validation."""
        return incident_id in self._open or incident_id in self._closed

    def is_open(self, incident_id: str) -> bool:
        return incident_id in self._open

    def last_seen(self, incident_id: str) -> datetime | None:
        entry = self._open.get(incident_id)
        return entry.last_seen if entry else None

    def decide(self, report: Report, *, now: datetime) -> MergeDecision:
        """Merge by incident_id, else url, else title; else a new incident (see module doc)."""
        if report.incident_id:
            if report.incident_id in self._open:
                return MergeDecision(incident_id=report.incident_id, merged_by="incident_id", score=1.0)
            if report.incident_id in self._closed:
                raise Conflict("incident_id", f"incident {report.incident_id} is closed; leave "
                               "incident_id out to open a new incident",
                               zh=f"舆情 {report.incident_id} 已结案；如需新建舆情，请不填 `incident_id`")
            raise NotFound("incident_id", f"no incident {report.incident_id}",
                           zh=f"未找到舆情 {report.incident_id}")
        if report.url:
            found = self._by_url.get(normalize_url(report.url, self._tracking))
            if found is not None:
                return MergeDecision(incident_id=found, merged_by="url", score=1.0)
        return self._by_title(report.title, report.region, report.observed_at or now)

    def _by_title(self, title: str, region: str | None, at: datetime) -> MergeDecision:
        key = normalize_title(title, self._prefixes)
        if len(key) < self.config.title_min_chars:
            return MergeDecision(incident_id=None, merged_by=None, score=0.0)
        grams = bigrams(key)
        region_key = normalize_region(region)
        # Candidates come from the rarer bigrams only: a bigram shared by hundreds of titles
        # (a stop-gram such as 网友 or 某镇) finds nothing specific and would make every
        # look-up scan them all. Scores are then exact Dice on the candidates' bigrams.
        postings = sorted((p for g in grams if (p := self._postings.get((region_key, g)))), key=len)
        rare = [p for p in postings if len(p) <= MAX_POSTING] or postings[:2]
        candidates: set[int] = set().union(*rare) if rare else set()
        counts = {e: len(grams & self._entries[e].grams) for e in candidates}
        best: tuple[float, datetime, str] | None = None
        near = 0.0
        for entry_id, shared in counts.items():
            entry = self._entries[entry_id]
            score = 2 * shared / (len(grams) + len(entry.grams))
            incident = self._open[entry.incident_id]
            if abs(at - incident.last_seen) > self._window:
                continue
            if score < self.config.title_similarity:
                near = max(near, score)
                continue
            candidate = (score, incident.last_seen, incident.id)
            if best is None or candidate > best:
                best = candidate
        if best is None:
            return MergeDecision(incident_id=None, merged_by=None, score=round(near, 4))
        return MergeDecision(incident_id=best[2], merged_by="title", score=round(best[0], 4))

    # updates -----------------------------------------------------------------------

    def open(self, incident_id: str, *, title: str, region: str | None, url: str | None,
             seen_at: datetime) -> None:
        """A new incident was reported."""
        if incident_id in self._open or incident_id in self._closed:
            return  # replayed event: already known
        self._open[incident_id] = _Open(id=incident_id, region=normalize_region(region), last_seen=seen_at)
        self.touch(incident_id, title=title, url=url, seen_at=seen_at)

    def touch(self, incident_id: str, *, title: str | None = None, url: str | None = None,
              region: str | None = None, seen_at: datetime) -> None:
        """A mention was added: the incident was seen again, maybe under another URL or title.

        An incident reported without a region takes the first region a mention gives (as
        its CoreView does), so its titles then match reports from that region."""
        incident = self._open.get(incident_id)
        if incident is None:
            return  # closed (or unknown): nothing to merge into
        incident.last_seen = max(incident.last_seen, seen_at)
        if not incident.region and normalize_region(region):
            self._move_titles(incident, normalize_region(region))
        if url:
            url_key = normalize_url(url, self._tracking)
            incident.urls.add(url_key)
            self._by_url.setdefault(url_key, incident_id)
        if title and len(incident.entries) < MAX_TITLES_PER_INCIDENT:
            key = normalize_title(title, self._prefixes)
            if len(key) >= self.config.title_min_chars and all(
                    self._entries[e].key != key for e in incident.entries):
                entry_id = self._next_entry
                self._next_entry += 1
                entry = _Entry(incident_id=incident_id, key=key, grams=bigrams(key))
                self._entries[entry_id] = entry
                incident.entries.append(entry_id)
                for gram in entry.grams:
                    self._postings.setdefault((incident.region, gram), set()).add(entry_id)

    def close(self, incident_id: str) -> None:
        """The incident was closed: it no longer takes mentions by URL or title."""
        incident = self._open.pop(incident_id, None)
        self._closed.add(incident_id)
        if incident is None:
            return
        for url_key in incident.urls:
            if self._by_url.get(url_key) == incident_id:
                del self._by_url[url_key]
        self._drop_titles(incident)

    def forget(self, incident_id: str) -> None:
        """A closed incident left intake's memory: naming it later reads it back (and `close`s it here)."""
        self._closed.discard(incident_id)

    def _move_titles(self, incident: _Open, region: str) -> None:
        for entry_id in incident.entries:
            for gram in self._entries[entry_id].grams:
                old = self._postings.get((incident.region, gram))
                if old is not None:
                    old.discard(entry_id)
                    if not old:
                        del self._postings[(incident.region, gram)]
                self._postings.setdefault((region, gram), set()).add(entry_id)
        incident.region = region

    def _drop_titles(self, incident: _Open) -> None:
        for entry_id in incident.entries:
            entry = self._entries.pop(entry_id)
            for gram in entry.grams:
                posting = self._postings.get((incident.region, gram))
                if posting is not None:
                    posting.discard(entry_id)
                    if not posting:
                        del self._postings[(incident.region, gram)]
        incident.entries = []

    def prune(self, now: datetime) -> int:
        """Forget the titles of incidents not seen within the window before `now` (they can no
        longer merge by title for a current report; id and URL merging still work). Returns how
        many incidents lost their titles. Optional: it only saves memory and look-up time."""
        pruned = 0
        for incident in self._open.values():
            if incident.entries and now - incident.last_seen > self._window:
                self._drop_titles(incident)
                pruned += 1
        return pruned

    def apply(self, event: Event) -> None:
        """Fold one of intake's events into the index; other events are ignored."""
        match event:
            case IncidentReported(mention=m):
                self.open(event.incident_id, title=event.title, region=m.region, url=m.url,
                          seen_at=m.observed_at or event.at)
            case MentionAdded(mention=m):
                self.touch(event.incident_id, title=m.title, url=m.url, region=m.region,
                           seen_at=m.observed_at or event.at)
            case IncidentClosed():
                self.close(event.incident_id)
            case _:
                pass
