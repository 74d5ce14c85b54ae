"""Duplicate suggestions: the open and recent items whose text is most like an item's.

Plain PostgreSQL (14+, no extension) finds the candidates: the item's words, as English
lexemes OR-ed into one full-text query (without the words too common to tell items apart,
by PostgreSQL's own column statistics), ranked with `ts_rank` over the item list's search
vector and its GIN index. Two things widen the query, since customers write the same
thing in other words and with typos: the words of the thesaurus groups the item's words
belong to (`projections/thesaurus.py`: "graphs" for "charts"), and for a word no other
item uses, the words of other items within one or two edits of it (Damerau-Levenshtein,
same first letter: "serach" finds "search"), from the vocabulary this module's projection
keeps (`similar_words`). Python then re-ranks the best candidates with rapidfuzz over the
texts with each thesaurus word read as its group's first, which forgives what full text
cannot (typos, word order, a sentence said another way), adds a little for the same
customer (people repeat themselves) and the same channel, and shows the same words received
again once. bench/b9_similar.py measures how often the original is found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import DamerauLevenshtein

from domain.feedback import Feedback, FeedbackNotFound
from domain.vocabulary import OPEN_FEEDBACK, FeedbackStatus, sql_list
from infra.database import Connection
from projections.base import Positioned, Projection, events_of
from projections.queries import InvalidQuery, Row
from projections.reads import reads
from projections.thesaurus import HEAD, MEMBERS

#: How many full-text candidates are re-ranked.
CANDIDATES = 50
#: Words in at least this share of items are left out of the full-text query...
COMMON = 0.005
#: ...except the least common words up to this many, each in less than `TOPIC` of items:
#: a complaint many customers make is common by that very fact, and without them the item
#: was found by its rarest words left, often a name in a signature (the demo's
#: "Hello, Font is cut off on small Android screens. Thanks, Anna (Proseware)" was offered
#: Anna's other requests, none of its 45 repeats).
MIN_TERMS = 6
TOPIC = 0.05
#: A word used by at most this many items (the item itself) is looked up for typos...
LONE = 1
#: ...if it has at least this many letters, within one edit up to `SHORT` letters, else two.
TYPO_MIN = 4
SHORT = 5
#: At most this many corrections per word.
TYPO_MATCHES = 3
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
             WHERE coalesce(v.items, 0) <= $3 AND length(q.w) >= $4) AS lone
FROM read.feedback_items f WHERE f.id = $1 OR f.key = $2
"""

# The item's words as English lexemes ($1; with its thesaurus neighbours' $8 and its typo
# corrections $9), OR-ed into one full-text query. A word in many
# items (PostgreSQL's own statistics of the search vectors say which: ANALYZE keeps each
# lexeme's share of rows in pg_stats) would make the query read and rank a large part of
# the table, so common words are left out (unless all are: then the two least common).
# (`plainto_tsquery('simple', …)` quotes a lexeme as it is; its text form is re-read as
# a tsquery with the terms OR-ed.) The least common words up to MIN_TERMS stay in
# however common (below TOPIC), so an often-repeated topic still finds its repeats.
_CANDIDATES = f"""
WITH stats AS (
    SELECT s.lexeme, s.freq
    FROM pg_stats p
    CROSS JOIN LATERAL unnest(p.most_common_elems::text::text[], p.most_common_elem_freqs)
        AS s(lexeme, freq)
    WHERE p.schemaname = (SELECT active_schema FROM projection_registry WHERE name = 'feedback')
      AND p.tablename = 'feedback_items' AND p.attname = 'search' AND s.lexeme IS NOT NULL
),
words AS (
    SELECT ws.w, coalesce(s.freq, 0) AS freq,
           ws.w = ANY(tsvector_to_array(to_tsvector('english', $1)) || $9::text[]) AS own
    FROM (SELECT DISTINCT w FROM unnest(tsvector_to_array(to_tsvector('english', $1))
                                        || tsvector_to_array(to_tsvector('english', $8))
                                        || $9::text[]) AS w) AS ws
    LEFT JOIN stats s ON s.lexeme = ws.w
),
-- The item's own words (and their corrections) stand for it; its thesaurus neighbours
-- only widen the query when rare enough not to cost a scan.
terms AS (
    SELECT '(' || plainto_tsquery('simple', w)::text || ')' AS term FROM words WHERE freq < $5
    UNION
    -- Every word common: the two least common stand for the item.
    (SELECT '(' || plainto_tsquery('simple', w)::text || ')' FROM words WHERE own
     ORDER BY freq, w LIMIT 2)
    UNION
    (SELECT '(' || plainto_tsquery('simple', w)::text || ')' FROM words WHERE own AND freq < $6
     ORDER BY freq, w LIMIT $7)
),
q AS (SELECT nullif(string_agg(term, ' | '), '')::tsquery AS query FROM terms)
SELECT c.key, c.status, c.channel, c.customer_ref, c.text, c.received_at,
       ts_rank(c.search, q.query) AS rank
FROM q, read.feedback_items c
WHERE c.search @@ q.query
  AND c.id <> $2
  AND c.status <> '{FeedbackStatus.DUPLICATE.value}'
  AND (c.status IN {sql_list(OPEN_FEEDBACK)} OR c.received_at >= $3)
ORDER BY rank DESC, c.received_at DESC
LIMIT $4
"""


_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def canonical(text: str) -> str:
    """`text` in lower case with each thesaurus word read as its group's first."""
    return " ".join(HEAD.get(w, w) for w in _words(text))


def neighbours(text: str) -> str:
    """The words of every thesaurus group that a word of `text` belongs to."""
    heads = {HEAD[w] for w in _words(text) if w in HEAD}
    return " ".join(m for h in sorted(heads) for m in MEMBERS[h])


_VOCABULARY = """
SELECT word FROM read.similar_words
WHERE left(word, 1) = ANY($1::text[]) AND length(word) BETWEEN $2 AND $3
"""


async def corrections(conn: Connection, lone: Sequence[str]) -> list[str]:
    """For each of the `lone` words (an item's words no other item uses), the words of
    other items within one edit of it (two from `SHORT` letters on), same first letter,
    closest first."""
    if not lone:
        return []
    lengths = [len(w) for w in lone]
    vocabulary = [
        r["word"]
        for r in await conn.fetch(
            _VOCABULARY, sorted({w[0] for w in lone}), min(lengths) - 2, max(lengths) + 2
        )
    ]
    found: list[str] = []
    for word in lone:
        edits = 1 if len(word) <= SHORT else 2
        near = [
            v
            for v in vocabulary
            if v[0] == word[0] and abs(len(v) - len(word)) <= edits and v != word
        ]
        found += [
            match
            for match, _, _ in process.extract(
                word,
                near,
                scorer=DamerauLevenshtein.distance,
                score_cutoff=edits,
                limit=TYPO_MATCHES,
            )
        ]
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
    candidates = await conn.fetch(
        _CANDIDATES,
        text,
        item["id"],
        item["received_at"] - RECENT,
        max(CANDIDATES, limit),
        COMMON,
        TOPIC,
        MIN_TERMS,
        neighbours(text),
        await corrections(conn, item["lone"]),
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


# --- the vocabulary the typo corrections look in ----------------------------------------

SCHEMA = """
CREATE TABLE similar_words (
    word text PRIMARY KEY,
    -- How many items' texts used it (as received or edited).
    items integer NOT NULL
);
"""

INDEXES = """
CREATE INDEX ON similar_words (left(word, 1), length(word)) INCLUDE (items);
"""

_COUNT_WORDS = """
INSERT INTO similar_words (word, items)
SELECT w, count(*)::int
FROM unnest($1::text[]) AS t(text),
     unnest(tsvector_to_array(to_tsvector('english', t.text))) AS w
GROUP BY w
ON CONFLICT (word) DO UPDATE SET items = similar_words.items + EXCLUDED.items
"""


class SimilarWords(Projection):
    """The English lexemes of every item's text and why, with how many items used each:
    the vocabulary a word nobody else used is corrected against. Only ever grows (a word
    of an edited or corrected text stays a word customers wrote)."""

    name = "similar"
    version = 1
    tables = ("similar_words",)
    topics = events_of(Feedback, "Received", "TextEdited")

    def schema_sql(self) -> str:
        return SCHEMA

    def index_sql(self) -> str:
        return INDEXES

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        texts = []
        for _, e in events:
            why = getattr(e, "nps_reason", None)  # received with a why (an edit has none)
            texts.append(f"{e.text} {why}" if why else e.text)
        if texts:
            await conn.execute(_COUNT_WORDS, texts)
