import pytest

from searchapp.snippets import ELLIPSIS, SNIPPET_CHARS, Marks, mark, snippet

# The index's stop words, as far as these tests need them.
STOP = {"and", "the", "of", "on", "a", "in", "to", "was", "is", "at", "by"}


def analyse(word):
    """A stand-in for the index's analyzer: lower case, a plural "s" dropped."""
    if word in STOP:
        return None
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def matches(*words, phrases=(), analyser=analyse):
    return Marks(analyser, frozenset(analyse(w.lower()) for w in words),
                 tuple(tuple(analyse(w) for w in p.lower().split() if analyse(w))
                       for p in phrases))


def plain(marked):
    return marked.replace("<mark>", "").replace("</mark>", "")


def test_a_short_text_is_shown_whole_with_its_matches_marked():
    assert snippet("Apricots and jam.", matches("jam")) == "Apricots and <mark>jam</mark>."


def test_no_match_gives_no_snippet():
    assert snippet("Apricots and jam.", matches("chess")) == ""
    assert snippet("Apricots and jam.", matches()) == ""


def test_text_and_matches_are_escaped():
    text = "<script>alert(1)</script> & the <b>treaty</b>"
    marked = snippet(text, matches("treaty", "script"))
    assert "<script>" not in marked and "<b>" not in marked
    assert marked == ("&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; &amp; "
                      "the &lt;b&gt;<mark>treaty</mark>&lt;/b&gt;")


def test_a_long_sentence_is_cut_around_its_matches_with_ellipses():
    filler = " ".join(f"word{n}" for n in range(200))
    text = f"{filler} the border talks resumed {filler} more border news {filler}"
    marked = snippet(text, matches("border"))
    assert marked.startswith(f"{ELLIPSIS} ") and marked.endswith(f" {ELLIPSIS}")
    assert "<mark>border</mark>" in marked
    assert len(plain(marked)) <= SNIPPET_CHARS + 4
    # Words are never cut: every piece is a whole word of the text.
    assert set(plain(marked).replace(ELLIPSIS, " ").split()) <= set(text.split())


def test_whole_sentences_are_preferred_and_cuts_are_shown():
    text = ("The weather was fine all week in the capital. " * 6
            + "Negotiators met on Friday to discuss the border commission. "
            + "Nothing else happened afterwards in the city today. " * 6)
    marked = snippet(text, matches("border"))
    assert plain(marked) == (f"{ELLIPSIS} Negotiators met on Friday to discuss the border "
                             f"commission. {ELLIPSIS}")


def test_a_second_sentence_is_added_only_when_it_shows_another_word_and_fits():
    filler = "Nothing happened in the city that day at all, officials said. " * 5
    text = (f"{filler}The chess players arrived. {filler}The chess club met. {filler}"
            "The olympiad opens soon. " + filler)
    marked = snippet(text, matches("chess", "olympiad"))
    assert marked.count("<mark>chess</mark>") == 1
    assert "<mark>olympiad</mark>" in marked
    assert marked.count(f" {ELLIPSIS} ") == 1  # two passages, the cut between them shown
    assert len(plain(marked)) <= SNIPPET_CHARS + 8


def test_snippets_stay_short():
    text = " ".join(f"Sentence {n} says the budget deficit grew again this year, as "
                    "officials in the ministry had warned it would." for n in range(40))
    marked = snippet(text, matches("budget", "deficit", "ministry"))
    assert len(plain(marked)) <= SNIPPET_CHARS + 8


def test_words_after_quotes_and_dashes_outside_ascii_are_marked():
    text = "Officials said the “Paris” agreement was signed — «Paris» again, and—Paris."
    marked = snippet(text, matches("paris"))
    assert marked.count("<mark>Paris</mark>") == 3
    assert "“<mark>Paris</mark>”" in marked and "«<mark>Paris</mark>»" in marked


@pytest.mark.parametrize("text, expected", [
    ("The General Agreement on Tariffs and Trade was signed. Trade grew.",
     "The General Agreement on <mark>Tariffs and Trade</mark> was signed. Trade grew."),
    ("Tariffs rose, and trade fell; later tariffs and trade recovered.",
     "Tariffs rose, and trade fell; later <mark>tariffs and trade</mark> recovered."),
    ("No phrase here: trade and then tariffs.", ""),
])
def test_a_phrase_is_marked_as_a_whole_never_its_words_alone(text, expected):
    assert snippet(text, matches(phrases=["tariffs and trade"])) == expected


def test_a_word_also_asked_for_alone_is_marked_outside_the_phrase_too():
    text = "Trade grew. The tariffs and trade talks ended."
    marked = snippet(text, matches("trade", phrases=["tariffs trade"]))
    assert marked == "<mark>Trade</mark> grew. The <mark>tariffs and trade</mark> talks ended."


def test_a_hyphenated_word_is_marked_whole():
    marked = snippet("On the Armenia-Azerbaijan border.", matches(phrases=["armenia azerbaijan"]))
    assert marked == "On the <mark>Armenia-Azerbaijan</mark> border."


def test_headlines_are_marked_and_escaped_once():
    marked = mark("<script>alert('x')</script> Border & Trade Talks", matches("border", "trade"))
    assert marked == ("&lt;script&gt;alert('x')&lt;/script&gt; <mark>Border</mark> &amp; "
                      "<mark>Trade</mark> Talks")
    assert mark("Tom &amp; Jerry", matches("tom")) == "<mark>Tom</mark> &amp;amp; Jerry"


def test_a_huge_article_is_snippeted_with_bounded_work():
    """Issue 13.3: a 3 MB body of distinct words; only a bounded part is analysed."""
    words = [f"w{n:07d}x" for n in range(330_000)]
    words[40] = "Saffron"
    words[len(words) // 2] = "Turmeric"
    text = " ".join(words)
    assert len(text) > 3_000_000
    calls = []

    def counting(word):
        calls.append(word)
        return analyse(word)

    marks = matches("saffron", "turmeric", "cardamom", analyser=counting)
    marked = snippet(text, marks)
    assert "<mark>Saffron</mark>" in marked
    assert "<mark>Turmeric</mark>" in marked
    assert marked.count(f" {ELLIPSIS} ") == 1
    # The head and two windows: a few thousand words, not 330,000.
    assert len(calls) < 5_000


def test_the_lead_of_a_huge_article_is_short_and_cut_at_a_word():
    from searchapp.snippets import lead

    text = " ".join(f"w{n}" for n in range(500_000))
    shown = lead(text)
    assert shown.endswith(" …") and len(shown) <= SNIPPET_CHARS + 2
    assert set(shown[:-2].split()) <= set(text.split()[:100])


SENTENCE_FILLER = "Nothing happened in the city that day at all, officials said. " * 4


@pytest.mark.parametrize("sentence, shown", [
    ('He said: "The U.S. Treasury and Mr. Baker agreed on rates." ',
     'He said: "The U.S. Treasury and Mr. Baker agreed on rates."'),
    ("Prices (in Jan. and Feb.) rose at No. 2 Treasury Inc. plants! ",
     "Prices (in Jan. and Feb.) rose at No. 2 Treasury Inc. plants!"),
    ("Was the Treasury right? ", "Was the Treasury right?"),
    ("Bond market\n\nThe Treasury sold notes on Monday\n\n", "The Treasury sold notes on Monday"),
])
def test_the_sentence_shown_runs_from_its_start_to_its_end(sentence, shown):
    """Initials, abbreviations and quotes do not end a sentence; a blank line does."""
    marked = snippet(SENTENCE_FILLER + sentence + SENTENCE_FILLER, matches("treasury"))
    assert plain(marked) == f"{ELLIPSIS} {shown} {ELLIPSIS}"


@pytest.mark.parametrize("text, expected", [
    ("U.S.-Japan trade", "U.S.-<mark>Japan</mark> trade"),
    ("The Japan.Inc story", ""),  # one word, as the index reads it: no match
    ("Tokyo.Japan talks", ""),
    ("_japan and 1japan; japan.", "_japan and 1japan; <mark>japan</mark>."),
])
def test_only_whole_words_are_marked_next_to_full_stops_and_digits(text, expected):
    assert snippet(text, matches("japan")) == expected
