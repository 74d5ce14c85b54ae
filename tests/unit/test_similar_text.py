"""How the duplicate suggestions read a text: thesaurus words as their group's first, and
the words a text's thesaurus groups add to its full-text query."""

from __future__ import annotations

from projections.similar import PREFIX_MIN, canonical, prefixes, query_words
from projections.thesaurus import HEAD, MEMBERS


def test_other_words_for_the_same_thing_read_alike() -> None:
    # Two customers describe the same empty dashboard in different words.
    one = canonical("The dashboard charts are empty")
    other = canonical("Overview graphs are BLANK!")
    assert one == "the dashboard chart are empty"
    assert other == "dashboard chart are empty"
    # A word in no group is left as written (in lower case).
    assert canonical("Kaleidoscope view") == "kaleidoscope view"


def test_a_texts_groups_and_typos_widen_its_query() -> None:
    words, lexemes = query_words("graphs stay blank", {})
    # Its own words first, as written, then its groups' other words.
    assert words[:3] == ["graphs", "stay", "blank"]
    assert {"chart", "charts", "diagram", "empty", "white"} <= set(words[3:])
    assert "graphs" not in words[3:]
    assert not any(lexemes)
    # A typo's corrections join as lexemes.
    words, lexemes = query_words("Kaleidoscope view", {"kalediscop": ["kaleidoscop"]})
    assert words == ["kaleidoscope", "view", "kaleidoscop"]
    assert lexemes == [False, False, True]


def test_every_word_is_in_one_group() -> None:
    assert all(HEAD[w] == head for head, words in MEMBERS.items() for w in words)
    assert sum(len(words) for words in MEMBERS.values()) == len(HEAD)


def test_a_lone_word_may_begin_with_the_stem_of_another() -> None:
    # The beginnings a typo'd word is looked up by, longest first, none shorter than
    # PREFIX_MIN letters and not the word itself.
    assert prefixes("emaild") == ["email"]
    assert prefixes("confirmaton")[0] == "confirmato"
    assert "confirm" in prefixes("confirmaton")
    assert min(len(p) for p in prefixes("confirmaton")) == PREFIX_MIN
    assert prefixes("chart") == []
