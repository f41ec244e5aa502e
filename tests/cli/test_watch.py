"""The terminal rendering of `aijobs watch`: streamed text is never overwritten."""

from __future__ import annotations

import io

from cli.watch import Screen, render


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as stdout and stderr are in a shell."""

    def isatty(self) -> bool:
        return True


def test_progress_never_draws_over_text_mid_line() -> None:
    """On a terminal, a stage arriving while a token line is open draws no bar (a `\\r` bar
    would overwrite the text); once the text's line ends, the bar is drawn."""
    out = err = Terminal()
    screen = Screen(out, err)
    screen.token("combine-1-1", "The summary so far")
    screen.progress("combining", 1, 3)
    assert "\r" not in out.getvalue()
    screen.line("· step done")
    screen.progress("combining", 2, 3)
    assert out.getvalue().endswith("2/3 combining ")
    assert "The summary so far\n" in out.getvalue()


def test_progress_is_plain_lines_off_a_terminal() -> None:
    """Piped stderr gets `· stage n/total` lines, never control characters."""
    out, err = io.StringIO(), io.StringIO()
    screen = Screen(out, err)
    screen.progress("summarizing", 1, 4)
    screen.token("chunk-1", "text")
    assert err.getvalue() == "· summarizing 1/4\n[chunk-1] "
    assert out.getvalue() == "text"


def test_a_truncation_notice_says_where_the_watch_continues() -> None:
    """`truncated` is shown as one line on stderr naming the offset it continues from."""
    out, err = io.StringIO(), io.StringIO()
    screen = Screen(out, err)
    assert (
        render(screen, "job-1", "truncated", {"continues_from": 42, "removed_through": 40}) is None
    )
    assert "continuing from 42" in err.getvalue()
    assert out.getvalue() == ""
