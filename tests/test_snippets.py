import pytest

from searchapp.snippets import SNIPPET_CHARS, snippet


def matches(*words):
    wanted = {w.lower() for w in words}
    return lambda word: word.lower() in wanted


def test_a_short_text_is_shown_whole_with_its_matches_marked():
    assert snippet("Apricots and jam.", matches("jam")) == "Apricots and <mark>jam</mark>."


def test_no_match_gives_no_snippet():
    assert snippet("Apricots and jam.", matches("chess")) == ""


def test_text_and_matches_are_escaped():
    text = "<script>alert(1)</script> & the <b>treaty</b>"
    marked = snippet(text, matches("treaty", "script"))
    assert "<script>" not in marked and "<b>" not in marked
    assert marked == ("&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; &amp; "
                      "the &lt;b&gt;<mark>treaty</mark>&lt;/b&gt;")


def test_a_long_text_shows_passages_around_matches_with_ellipses():
    filler = " ".join(f"word{n}" for n in range(200))
    text = f"{filler} the border talks resumed {filler} more border news {filler}"
    marked = snippet(text, matches("border"))
    assert marked.endswith(" …")
    assert marked.count("<mark>border</mark>") == 2
    assert marked.count(" … ") == 1  # two passages
    passages = marked.strip("… ").split(" … ")
    assert all(len(p.replace("<mark>", "").replace("</mark>", "")) <= SNIPPET_CHARS
               for p in passages)
    # Words are never cut: every piece of a passage is a whole word of the text.
    plain = marked.replace("<mark>", "").replace("</mark>", "").replace("…", " ").split()
    assert set(plain) <= set(text.split())


@pytest.mark.parametrize("passages", [1, 2])
def test_the_passage_with_most_different_words_wins(passages):
    filler = " ".join(f"w{n}" for n in range(120))
    text = f"chess {filler} chess {filler} chess olympiad team {filler}"
    marked = snippet(text, matches("chess", "olympiad"), passages=passages)
    assert "<mark>olympiad</mark>" in marked
    assert marked.count(" … ") == passages - 1
    assert marked.endswith(" …")


@pytest.mark.parametrize("initials", [None, "p"])
def test_words_after_quotes_and_dashes_outside_ascii_are_marked(initials):
    text = "Officials said the “Paris” agreement was signed — «Paris» again, and—Paris."
    marked = snippet(text, matches("paris"), initials)
    assert marked.count("<mark>Paris</mark>") == 3
    assert "“<mark>Paris</mark>”" in marked and "«<mark>Paris</mark>»" in marked
