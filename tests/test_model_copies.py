"""Copies of a model for requests served at once: one thread a copy, a copy more only when all are busy."""

from __future__ import annotations

import threading

import pytest
import torch

from soundsight.model_copies import PROCESS_THREADS, ModelCopies, on_every_thread


@pytest.fixture(autouse=True)
def _every_thread_after() -> object:
    yield
    on_every_thread()  # whatever a failed test left, the next tests run on every thread


class _Loads:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"copy {self.count}"


def test_a_copy_more_is_loaded_only_while_every_copy_is_busy_and_each_thread_gets_its_share() -> None:
    loads = _Loads()
    copies = ModelCopies(loads, most=2, threads=2)
    assert loads.count == 1  # the first at once, so a model that cannot load says so before any request
    with copies.lent() as first:
        with copies.lent() as again:  # nothing idle: a second copy, never the one in use
            assert (first, again) == ("copy 1", "copy 2") and torch.get_num_threads() == 1
    with copies.lent() as alone, copies.lent() as beside:
        assert {alone, beside} == {"copy 1", "copy 2"} and loads.count == 2  # both reused
    with copies.lent():
        assert torch.get_num_threads() == 2  # alone: every thread
    torch.set_num_threads(1)
    with copies.lent():
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1  # as it was before the copy was lent
    on_every_thread()
    assert torch.get_num_threads() == PROCESS_THREADS


def test_past_the_most_copies_a_request_waits_for_one_to_come_back() -> None:
    copies = ModelCopies(_Loads(), most=1)
    waited = []

    def second() -> None:
        with copies.lent() as copy:
            waited.append(copy)

    with copies.lent() as copy:
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=0.3)
        assert thread.is_alive() and not waited  # still waiting: the one copy is busy
    thread.join(timeout=5)
    assert waited == [copy] and copies.loaded == 1


def test_a_copy_that_fails_to_load_frees_its_place() -> None:
    calls = []

    def load() -> str:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk gone")
        return f"copy {len(calls)}"

    copies = ModelCopies(load, most=2)
    with copies.lent():
        with pytest.raises(OSError, match="disk gone"), copies.lent():
            pass
        assert copies.loaded == 1
        with copies.lent() as copy:
            assert copy == "copy 3"
