"""A compile that keeps the user waiting is announced once on stderr; a quick one is silent."""

import time

from pysnn import compile_notice as notice


def test_a_slow_compile_is_announced_once(monkeypatch, capsys):
    monkeypatch.setattr(notice, "NOTICE_AFTER", 0.02)
    with notice.compile_notice("the run loop of a test network"):
        time.sleep(0.2)
    err = capsys.readouterr().err
    assert err.count("pysnn: compiling the run loop of a test network; this happens once") == 1
    assert str(notice.cache_dir()) in err


def test_a_quick_compile_says_nothing(monkeypatch, capsys):
    monkeypatch.setattr(notice, "NOTICE_AFTER", 0.5)
    with notice.compile_notice("a cached kernel"):
        pass
    time.sleep(0.6)
    assert capsys.readouterr().err == ""
