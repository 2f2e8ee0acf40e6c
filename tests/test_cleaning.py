import pytest

from searchapp.cleaning import (
    clean_lines,
    clean_paragraphs,
    drop_dangling_brackets,
    is_boilerplate,
    normalize_space,
    split_paragraphs,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("YEREVAN ( — Fighting continued", "YEREVAN — Fighting continued"),
        ("YEREVAN (Azatutyun) — Fighting", "YEREVAN (Azatutyun) — Fighting"),
        ("the talks ( ) ended", "the talks ended"),
        ("the [ ] gap", "the gap"),
        ("quoted [of the border,] today", "quoted [of the border,] today"),
        ("prices rose (see chart .", "prices rose (see chart."),
    ],
)
def test_drop_dangling_brackets_keeps_balanced_pairs(text, expected):
    assert drop_dangling_brackets(text) == expected


@pytest.mark.parametrize(
    "paragraph",
    [
        "Get the Mirror in your inbox:",
        "Get the Mirror-Spectator Weekly in your inbox:",
        "Sign up for our newsletter",
        "Subscribe to our daily newsletter!",
        "Share this article",
        "Advertisement",
        "Related Articles",
        "Click here to subscribe to the print edition",
    ],
)
def test_is_boilerplate_recognises_prompts(paragraph):
    assert is_boilerplate(paragraph)


@pytest.mark.parametrize(
    "paragraph",
    [
        "The minister said readers should get the facts in their inbox and elsewhere, "
        "and that the newsletter was one of many ways the ministry keeps in touch.",
        "Share prices fell sharply on Monday.",
        "Comments from the minister were not immediately available.",
    ],
)
def test_is_boilerplate_keeps_article_sentences(paragraph):
    assert not is_boilerplate(paragraph)


def test_normalize_space_drops_controls_and_collapses_runs():
    assert normalize_space("  a\u00a0\u00a0b\x00c\u200b d\t\te ") == "a bc d e"


def test_clean_paragraphs_drops_empty_and_boilerplate():
    paragraphs = ["First.", "   ", "Get the Mirror in your inbox:", "Second ( — part."]
    assert clean_paragraphs(paragraphs) == ["First.", "Second — part."]


def test_split_paragraphs_joins_wrapped_lines_and_splits_blank_lines():
    text = "one line\nwrapped here\r\n\r\nnext para\n \nlast"
    assert split_paragraphs(text) == ["one line wrapped here", "next para", "last"]


def test_spaces_and_controls_are_cleaned_as_one_pass_over_every_character_would():
    """The fast paths (single spaces left alone, printable text not rescanned) give what
    replacing every run of spaces and removing every control character gives."""
    import random
    import re
    import unicodedata

    spaces = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
    controls = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
    alphabet = "ab é,.(  \t\u00a0\u2003\u3000\u200b\ufeff\x00\x1f\x85\n\u2028\ue000"
    rng = random.Random(20261130)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
        expected = spaces.sub(" ", controls.sub("", unicodedata.normalize("NFC", text)))
        assert normalize_space(text) == expected.strip(), repr(text)


def test_ascii_text_is_cleaned_as_one_pass_over_every_character_would():
    """Printable ASCII (most headlines and names) takes a shorter way: the same text."""
    import random
    import re

    spaces = re.compile(r"[ \t]+")
    controls = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
    rng = random.Random(16)
    for _ in range(5000):
        text = "".join(rng.choice("aZ9,.(   \t\x00\x1f\x7f\n") for _ in range(rng.randrange(24)))
        assert normalize_space(text) == spaces.sub(" ", controls.sub("", text)).strip(), repr(text)


def test_clean_paragraphs_cleans_as_normalising_then_dropping_brackets_does():
    """The path for paragraphs without brackets gives what the two steps give."""
    import random

    alphabet = "ab é,.;:!?()[]  \t\u00a0\u2003\u3000\u200b\x00\x85\u2028—-"
    rng = random.Random(16)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
        expected = drop_dangling_brackets(normalize_space(text))
        assert clean_paragraphs([text]) == ([expected] if expected else []), repr(text)


@pytest.mark.parametrize("alphabet", [
    "ad,.;:!?()[]  \n-",  # plain ASCII, the path most exports take ("ad" is boilerplate)
    "ad é,.;:!?()[]  \t\n\r\u00a0\u2003\u200b\x00\x0b\x1c\x85\u2028—-",
])
def test_clean_lines_cleans_as_splitting_then_cleaning_paragraphs_does(alphabet):
    """An export's text cleaned in a few passes over the whole of it gives the
    paragraphs that splitting it at line breaks and cleaning each gives."""
    import random
    import re

    rng = random.Random(8)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert clean_lines(text) == clean_paragraphs(re.split(r"\n\s*", text)), repr(text)
