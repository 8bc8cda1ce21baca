"""The runner's progress sink: at most one line per interval, a held line passed on when the interval is over."""
import io
import time

from smoothgrad.reproduce import _ProgressStream


def _lines(buf):
    return [ln for ln in buf.getvalue().splitlines() if ln]


def test_first_line_at_once_then_held_until_the_interval_is_over():
    buf = io.StringIO()
    s = _ProgressStream("nb", 0.3, file=buf)
    s.write("step 1\n")
    assert _lines(buf) == ["[nb] step 1"]
    s.write("step 2\n")
    s.write("step 3\r")  # replaces the held line
    assert _lines(buf) == ["[nb] step 1"]
    time.sleep(1.0)  # the timer passes on the latest held line, without a further write
    assert _lines(buf) == ["[nb] step 1", "[nb] step 3"]
    s.close()
    assert _lines(buf) == ["[nb] step 1", "[nb] step 3"]  # nothing pending, nothing repeated


def test_close_passes_on_the_pending_line_once_and_stops_the_timer():
    buf = io.StringIO()
    s = _ProgressStream("nb", 5.0, file=buf)
    s.write("a\n")
    s.write("\x1b[31mb\x1b[0m\n")  # ANSI colours are removed
    assert s.timer is not None
    s.close()
    assert s.timer is None
    assert _lines(buf) == ["[nb] a", "[nb] b"]


def test_send_replaces_printing_and_lines_keep_the_cadence():
    sent = []
    s = _ProgressStream("nb", 0.2, send=sent.append)
    t_end = time.monotonic() + 1.1
    k = 0
    while time.monotonic() < t_end:
        s.write(f"line {k}\n")
        k += 1
        time.sleep(0.01)
    s.close()
    assert sent[0] == "line 0" and sent[-1] == f"line {k - 1}"
    assert 3 <= len(sent) <= 9, sent  # about one per 0.2 s over 1.1 s, plus the last (slack for a loaded machine)
