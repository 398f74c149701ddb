"""The sliding-window limit: counts per key, frees up as the window slides, forgets the oldest keys."""

from __future__ import annotations

from patron.core.ratelimit import SlidingWindowLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_holds_per_key_and_frees_up_as_the_window_slides() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(3, 60, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b"), "another key has its own count"
    clock.now += 30
    assert not limiter.allow("a"), "the first three are still inside the window"
    clock.now += 30.001
    assert limiter.allow("a"), "60 s after the first three, they no longer count"
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]


def test_refused_events_do_not_extend_the_wait() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(1, 10, clock=clock)
    assert limiter.allow("a")
    for _ in range(5):
        clock.now += 1
        assert not limiter.allow("a")
    clock.now += 5
    assert limiter.allow("a")


def test_memory_is_bounded_and_zero_turns_it_off() -> None:
    limiter = SlidingWindowLimiter(1, 60, max_keys=2, clock=Clock())
    assert limiter.allow("a") and limiter.allow("b") and limiter.allow("c")
    assert limiter.allow("a"), "a was the least recently seen and was forgotten"
    assert not limiter.allow("c")
    unlimited = SlidingWindowLimiter(0, 60)
    assert all(unlimited.allow("a") for _ in range(100))
