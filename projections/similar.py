"""Duplicate suggestions: the open and recent items whose text is most like an item's.

Plain PostgreSQL (14+, no extension) finds the candidates, from the inverted index this
module's projection keeps (`similar_postings`: each English lexeme of each item's text and
why, with the item), as a search engine does: every item sharing a word of the item's is
scored by the sum of the shared words' inverse document frequencies, ln((N + 1) / df), over
the N items received, df of them using the word (`similar_words`); a rare word shared
counts for more than several common ones. A word used by many items says little and costs
much to read, so the item's words are read rarest first up to `READ` postings in all (the
commonest left out), which bounds what one suggestion costs; two words both left out are
read together, as a pair close together in a text (the index keeps those too: "chang set"),
much rarer than either. The best `POOL` by that score are joined to the item list, filtered
(not duplicates, open or recent) and the best `CANDIDATES` re-ranked.

Two things widen the query, since customers write the same thing in other words and with
typos: the words of the thesaurus groups the item's words belong to
(`projections/thesaurus.py`: "graphs" for "charts"), and for a word no other item uses, the
words of other items within one or two edits of it (Damerau-Levenshtein, same first letter:
"serach" finds "search") or the longest one it begins with ("confirmaton" finds "confirm",
the stem of "confirmation"), from the same vocabulary. Python then re-ranks the candidates
with rapidfuzz over the texts with each thesaurus word read as its group's first, which forgives
what full text cannot (typos, word order, a sentence said another way), adds the candidate's
share of the best score, a little for the same customer (people repeat themselves) and the
same channel, and shows the same words received again once. bench/b9_similar.py measures how
often the original is found, and how fast.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import DamerauLevenshtein

from domain.feedback import Feedback, FeedbackNotFound, live_events
from domain.vocabulary import OPEN_FEEDBACK, FeedbackStatus, sql_list
from infra.database import Connection
from infra.recorder import select_events
from infra.transcoder import EventMapper
from projections.base import Positioned, Projection, events_of
from projections.paging import InvalidQuery, Row
from projections.reads import reads
from projections.thesaurus import HEAD, MEMBERS

#: How many candidates are re-ranked...
CANDIDATES = 50
#: ...of the best this many by shared words' weight (before leaving out duplicates and
#: items resolved long ago).
POOL = 200
#: The postings one suggestion reads at most: the item's rarest words first, the commoner
#: left out once this many would be read (the cost of a query, whatever its words; a word
#: that common weighs little anyway).
READ = 10_000
#: A word used by at most this many items (the item itself) is looked up for typos...
LONE = 1
#: ...if it has at least this many letters, within one edit up to `SHORT` letters, else two.
TYPO_MIN = 4
SHORT = 5
#: Two lexemes of a text at most this many positions apart (a stop word between counts)
#: are a key of their own, "a b": two words too common to read alone ("change",
#: "settings") are much rarer together. A pair is read only when both its words were left
#: out of `READ`, the rarest first, at most `PAIR_READ` postings of pairs more.
PAIR_SPAN = 2
PAIR_READ = 5_000
#: At most this many corrections per word.
TYPO_MATCHES = 3
#: A lone word also looks for the longest word of other items it starts with, of at least
#: this many letters: the stem of a word the stemmer could not cut for its typo
#: ("confirmaton" finds "confirm" of "confirmation", "emaild" "email").
PREFIX_MIN = 5
#: Items resolved longer ago than this before the item was received are not suggested.
RECENT = timedelta(days=180)
MAX_LIMIT = 50

# Weights of the final score (0..1): text likeness dominates; full-text rank breaks ties
# between equally alike texts; the same customer or channel nudges.
_TOKEN_SET = 0.45
_WEIGHTED = 0.35
_RANK = 0.2
_SAME_CUSTOMER = 0.1
_SAME_CHANNEL = 0.02


class SimilarItem(Row, frozen=True, kw_only=True):
    """A suggested original, with its `score` from 0 (unlike) to 1 (the same words)."""

    key: str
    score: float
    status: str
    channel: str
    customer_ref: str | None
    text: str
    received_at: datetime


class SimilarItems(Row, frozen=True, kw_only=True):
    key: str
    items: list[SimilarItem]


# The item, and the words of its text no other item uses (looked up for typos), in one
# round trip.
_ITEM = """
SELECT f.id, f.key, f.text, f.nps_reason, f.channel, f.customer_ref, f.received_at,
       ARRAY(SELECT q.w
             FROM unnest(tsvector_to_array(to_tsvector('english',
                      f.text || ' ' || coalesce(f.nps_reason, ''))))  AS q(w)
             LEFT JOIN read.similar_words v ON v.word = q.w
             WHERE coalesce(v.items, 0) <= $3 AND length(q.w) >= $4) AS lone,
       (SELECT items FROM read.similar_count) AS total
FROM read.feedback_items f WHERE f.id = $1 OR f.key = $2
"""


def _pairs(vector: str) -> str:
    """SQL: the pairs of lexemes of the tsvector `vector` at most `PAIR_SPAN` positions
    apart, as rows of `w`, each "a b" in alphabetical order (a lexeme has no space)."""
    lexemes = f"(SELECT lexeme, unnest(positions) AS at FROM unnest({vector}))"
    return f"""(
        SELECT DISTINCT least(a.lexeme, b.lexeme) || ' ' || greatest(a.lexeme, b.lexeme) AS w
        FROM {lexemes} AS a
        JOIN {lexemes} AS b ON b.at > a.at AND b.at <= a.at + {PAIR_SPAN}
                            AND b.lexeme <> a.lexeme
    )"""


# The query's words ($1: words as written, or, where $5 says so, a typo's corrections as
# lexemes). Each lexeme weighs its inverse document frequency ($7 items in all); the
# commonest are left out once the postings to read would pass $8 (the rarest word is always
# read). Then the pairs of the item's text $9 both of whose words were left out, rarest
# first within $10 postings more: a pair weighs its two words, read among the items that
# use them close together. An item scores the weights of the words and pairs it shares; the
# best $6 are read.
_CANDIDATES = f"""
WITH asked AS (
    SELECT DISTINCT l.w
    FROM unnest($1::text[], $5::bool[]) AS t(word, lexeme)
    CROSS JOIN LATERAL unnest(CASE WHEN t.lexeme THEN ARRAY[t.word]
                               ELSE tsvector_to_array(to_tsvector('english', t.word)) END)
        AS l(w)
),
weighed AS (
    SELECT a.w, ln(($7::float8 + 1) / v.items) AS weight, v.items,
           sum(v.items) OVER (ORDER BY v.items, a.w
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS read
    FROM asked a
    JOIN read.similar_words v ON v.word = a.w
),
-- The rarest words first, as long as their postings together stay within $8.
words AS (SELECT w, weight FROM weighed WHERE read <= $8 OR read = items),
-- The pairs of the item's text both of whose words are left out.
pairs AS (
    SELECT v.word AS w, v.items, x.weight + y.weight AS weight
    FROM read.similar_words v
    JOIN weighed x ON x.w = split_part(v.word, ' ', 1)
    JOIN weighed y ON y.w = split_part(v.word, ' ', 2)
    WHERE v.word = ANY(ARRAY(SELECT k.w FROM to_tsvector('english', $9) AS t
                                        CROSS JOIN LATERAL {_pairs("t")} AS k))
      AND x.w NOT IN (SELECT w FROM words) AND y.w NOT IN (SELECT w FROM words)
),
terms AS (
    SELECT w, weight FROM words
    UNION ALL
    SELECT w, weight
    FROM (SELECT w, weight, sum(items) OVER (ORDER BY items, w
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                 AS read
          FROM pairs) AS p
    WHERE read <= $10
),
hits AS (
    SELECT p.item_id, sum(t.weight) AS score
    FROM terms t JOIN read.similar_postings p ON p.word = t.w
    GROUP BY p.item_id
    ORDER BY score DESC, p.item_id
    LIMIT $6
)
SELECT c.key, c.status, c.channel, c.customer_ref, c.text, c.received_at, h.score AS rank
FROM hits h JOIN read.feedback_items c ON c.id = h.item_id
WHERE c.id <> $2
  AND c.status <> '{FeedbackStatus.DUPLICATE.value}'
  AND (c.status IN {sql_list(OPEN_FEEDBACK)} OR c.received_at >= $3)
ORDER BY h.score DESC, c.received_at DESC
LIMIT $4
"""


_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def canonical(text: str) -> str:
    """`text` in lower case with each thesaurus word read as its group's first."""
    return " ".join(HEAD.get(w, w) for w in _words(text))


def query_words(text: str, corrected: dict[str, list[str]]) -> tuple[list[str], list[bool]]:
    """The words the candidates are looked up by: `text`'s own, the other words of every
    thesaurus group one of them belongs to, and each typo's `corrected` lexemes; with
    whether each is a lexeme already."""
    own = dict.fromkeys(_words(text))
    words = list(own)
    for head in sorted({HEAD[w] for w in own if w in HEAD}):
        words += [member for member in MEMBERS[head] if member not in own]
    lexemes = [False] * len(words)
    for found in corrected.values():
        words += found
        lexemes += [True] * len(found)
    return words, lexemes


_VOCABULARY = """
SELECT word FROM read.similar_words
WHERE left(word, 1) = ANY($1::text[]) AND length(word) BETWEEN $2 AND $3
  AND strpos(word, ' ') = 0
UNION
SELECT word FROM read.similar_words WHERE word = ANY($4::text[])
"""


def prefixes(word: str) -> list[str]:
    """The beginnings of `word` a word of other items may be the stem of, longest first."""
    return [word[:n] for n in range(len(word) - 1, PREFIX_MIN - 1, -1)]


async def corrections(conn: Connection, lone: Sequence[str]) -> dict[str, list[str]]:
    """For each of the `lone` words (an item's words no other item uses), the words of
    other items within one edit of it (two from `SHORT` letters on), same first letter,
    closest first, and the longest word of other items it begins with (`PREFIX_MIN`
    letters or more)."""
    if not lone:
        return {}
    lengths = [len(w) for w in lone]
    starts = sorted({p for w in lone for p in prefixes(w)})
    vocabulary = [
        r["word"]
        for r in await conn.fetch(
            _VOCABULARY, sorted({w[0] for w in lone}), min(lengths) - 2, max(lengths) + 2, starts
        )
    ]
    known = set(vocabulary)
    found: dict[str, list[str]] = {}
    for word in lone:
        edits = 1 if len(word) <= SHORT else 2
        near = [
            v
            for v in vocabulary
            if v[0] == word[0] and abs(len(v) - len(word)) <= edits and v != word
        ]
        matches = process.extract(
            word,
            near,
            scorer=DamerauLevenshtein.distance,
            score_cutoff=edits,
            limit=TYPO_MATCHES,
        )
        words = [match for match, _, _ in matches]
        stem = next((p for p in prefixes(word) if p in known), None)
        if stem is not None and stem not in words:
            words.append(stem)
        if words:
            found[word] = words
    return found


def likeness(a: str, b: str) -> float:
    """How alike two texts read, 0..1: rapidfuzz's token-set ratio (shared words, any
    order) blended with its weighted ratio (character edits, partial matches)."""
    token_set = fuzz.token_set_ratio(a, b, processor=utils.default_process) / 100
    weighted = fuzz.WRatio(a, b, processor=utils.default_process) / 100
    return (_TOKEN_SET * token_set + _WEIGHTED * weighted) / (_TOKEN_SET + _WEIGHTED)


def _score(item: Any, text: str, candidate: Any, top_rank: float) -> float:
    score = (_TOKEN_SET + _WEIGHTED) * likeness(text, canonical(candidate["text"]))
    score += _RANK * (candidate["rank"] / top_rank if top_rank > 0 else 0.0)
    if item["customer_ref"] and item["customer_ref"] == candidate["customer_ref"]:
        score += _SAME_CUSTOMER
    if item["channel"] == candidate["channel"]:
        score += _SAME_CHANNEL
    return min(score, 1.0)


@reads("feedback", "similar")
async def similar(conn: Connection, ref: str | UUID, *, limit: int = 5) -> SimilarItems | None:
    """Up to `limit` items that may be the original of item `ref` (key or id), most alike
    first: not duplicates themselves, still open or received at most `RECENT` before it.
    None when there is no such item."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery("limit", f"must be from 1 to {MAX_LIMIT}")
    item_id: UUID | None = ref if isinstance(ref, UUID) else None
    key: str | None = None
    if item_id is None:
        try:
            item_id = UUID(str(ref))
        except ValueError:
            key = str(ref).strip().upper()
    item = await conn.fetchrow(_ITEM, item_id, key, LONE, TYPO_MIN)
    if item is None:
        return None
    text = item["text"] if not item["nps_reason"] else f"{item['text']} {item['nps_reason']}"
    asked, lexemes = query_words(text, await corrections(conn, item["lone"]))
    total = item["total"] or 0
    candidates = await conn.fetch(
        _CANDIDATES,
        asked,
        item["id"],
        item["received_at"] - RECENT,
        max(CANDIDATES, limit),
        lexemes,
        max(POOL, limit),
        total,
        READ,
        text,
        PAIR_READ,
    )
    said = canonical(text)
    top_rank = max((c["rank"] for c in candidates), default=0.0)
    ranked = sorted(
        ((_score(item, said, c, top_rank), c) for c in candidates),
        key=lambda pair: (-pair[0], -pair[1]["received_at"].timestamp(), pair[1]["key"]),
    )
    # The same words received again are one suggestion (the newest), not several.
    seen: set[str] = set()
    scored = []
    for score, c in ranked:
        words = utils.default_process(c["text"])
        if words not in seen:
            seen.add(words)
            scored.append((score, c))
    return SimilarItems(
        key=item["key"],
        items=[
            SimilarItem(
                key=c["key"],
                score=round(score, 4),
                status=c["status"],
                channel=c["channel"],
                customer_ref=c["customer_ref"],
                text=c["text"],
                received_at=c["received_at"],
            )
            for score, c in scored[:limit]
        ],
    )


@reads("feedback", "similar")
async def suggestions(conn: Connection, ref: str | UUID, *, limit: int = 5) -> SimilarItems:
    """`similar`, for an item that must exist (`FeedbackNotFound` otherwise)."""
    found = await similar(conn, ref, limit=limit)
    if found is None:
        raise FeedbackNotFound(f"no feedback item {ref}")
    return found


# --- the index the candidates are found by, and the vocabulary of typo corrections -------

SCHEMA = """
CREATE TABLE similar_words (
    word text PRIMARY KEY,
    -- How many items' texts used it (as received or edited); a pair of words too.
    items integer NOT NULL
);
-- Each lexeme of each item's text (why = false) and why (why = true), and each pair of
-- them close together ("a b", alphabetical): who uses a word or pair.
CREATE TABLE similar_postings (
    word text NOT NULL,
    item_id uuid NOT NULL,
    why boolean NOT NULL
);
-- How many items were received (the N of the words' inverse document frequency).
CREATE TABLE similar_count (items integer NOT NULL);
INSERT INTO similar_count VALUES (0);
-- Texts received, edited or corrected, not yet taken into the words and postings: a live
-- batch's (taken in at once), a build's (taken in all at once when it has caught up).
-- `counted`: a text customers wrote (received or edited), counted in `similar_words`; a
-- correction's is only posted. A received text and its why share their `position`;
-- `received`: theirs (the item has no postings yet), not an edit's or a correction's.
CREATE TABLE similar_texts (
    position bigint NOT NULL,
    item_id uuid NOT NULL,
    text text NOT NULL,
    why boolean NOT NULL,
    counted boolean NOT NULL,
    received boolean NOT NULL
);
"""

INDEXES = """
CREATE INDEX ON similar_words (left(word, 1), length(word)) INCLUDE (items)
    WHERE strpos(word, ' ') = 0;
CREATE INDEX ON similar_postings (word, item_id);
CREATE INDEX ON similar_postings (item_id);
"""

# Taking in the staged texts, each parsed once: an item's latest text (and its why) is
# what it is found by, its earlier postings of text replaced; every text customers wrote
# counts once for each word and pair it uses (a received text and its why together, so a
# word of both counts once; a pair is of words close together in one of them).
_UNPOST = """
DELETE FROM similar_postings p
USING (SELECT DISTINCT item_id FROM similar_texts WHERE NOT received) AS s
WHERE p.item_id = s.item_id AND NOT p.why
"""
_POST_AND_COUNT = f"""
WITH keys AS MATERIALIZED (
    SELECT t.position, t.item_id, t.why, t.counted, t.latest, k.w
    FROM (SELECT position, item_id, why, counted, text,
                 position = max(position) OVER (PARTITION BY item_id, why) AS latest
          FROM similar_texts) AS t
    CROSS JOIN LATERAL to_tsvector('english', t.text) AS v
    CROSS JOIN LATERAL (SELECT unnest(tsvector_to_array(v)) UNION ALL SELECT w FROM {_pairs("v")})
        AS k(w)
),
posted AS (
    INSERT INTO similar_postings (word, item_id, why)
    SELECT w, item_id, why FROM keys WHERE latest
)
INSERT INTO similar_words (word, items)
SELECT w, count(*)::int
FROM (SELECT DISTINCT w, position FROM keys WHERE counted) AS used
GROUP BY w
"""
_UNSTAGE = "DELETE FROM similar_texts"
_TAKE_IN = (
    # Sorting and hashing a build's many words in memory rather than on disk.
    "SET LOCAL work_mem TO '128MB'",
    _UNPOST,
    _POST_AND_COUNT
    + "ON CONFLICT (word) DO UPDATE SET items = similar_words.items + EXCLUDED.items",
    _UNSTAGE,
)
#: A build takes in what it staged whenever this many texts are waiting (and the rest
#: when it has caught up): one parse and one write of the words for tens of thousands of
#: texts, while the build reads and folds the next events.
TAKE_IN_AT = 50_000
_STAGED_ENOUGH = "SELECT count(*) >= $1 FROM (SELECT FROM similar_texts LIMIT $1) AS s"

_STAGE = """
INSERT INTO similar_texts (position, item_id, text, why, counted, received)
SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bool[], $5::bool[], $6::bool[])
"""

_RECEIVED = "UPDATE similar_count SET items = items + $1"

_MAPPER = EventMapper()


class SimilarWords(Projection):
    """The English lexemes of every item's text and why: who uses each (the postings the
    candidates are found by, following edits and their undoing), and how many items ever
    used it (the vocabulary a word nobody else used is corrected against, which only ever
    grows: a word of an edited or corrected text stays a word customers wrote).

    A batch's texts are staged, then taken in with one parse each (`_TAKE_IN`); a build
    stages them and takes them in tens of thousands at a time (fewer, larger writes of the
    words; postings deleted from its unindexed table once a chunk, not once an edit)."""

    name = "similar"
    version = 4
    tables = ("similar_words", "similar_postings", "similar_count", "similar_texts")
    topics = events_of(Feedback, "Received", "TextEdited", "Corrected")

    def schema_sql(self) -> str:
        return SCHEMA

    def index_sql(self) -> str:
        return ";".join((*_TAKE_IN, INDEXES))

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        await self._stage(conn, events)
        await _take_in(conn)

    async def stage(self, conn: Connection, events: Sequence[Positioned]) -> None:
        await self._stage(conn, events)
        if await conn.fetchval(_STAGED_ENOUGH, TAKE_IN_AT):
            await _take_in(conn)

    async def _stage(self, conn: Connection, events: Sequence[Positioned]) -> None:
        rows: list[tuple[int, UUID, str, bool, bool, bool]] = []
        add = rows.append
        received = 0
        for position, e in events:
            kind = type(e).__name__
            if kind == "Received":
                received += 1
                if e.text:
                    add((position, e.originator_id, e.text, False, True, True))
                if e.nps_reason:
                    add((position, e.originator_id, e.nps_reason, True, True, True))
            elif kind == "TextEdited":
                add((position, e.originator_id, e.text, False, True, False))
            else:  # a correction, which may undo an edit: the text as it stands now
                add((position, e.originator_id, await _live_text(conn, e), False, False, False))
        if rows:
            await conn.execute(_STAGE, *(list(column) for column in zip(*rows, strict=True)))
        if received:
            await conn.execute(_RECEIVED, received)


async def _take_in(conn: Connection) -> None:
    for statement in _TAKE_IN:
        await conn.execute(statement)


async def _live_text(conn: Connection, e: Any) -> str:
    """The item's text as its events up to `e` that still count leave it."""
    stored = await select_events(conn, e.originator_id, lte_version=e.originator_version)
    text = ""
    for live in live_events([_MAPPER.to_domain_event(s) for s in stored]):
        if type(live).__name__ in ("Received", "TextEdited"):
            text = live.text
    return text
