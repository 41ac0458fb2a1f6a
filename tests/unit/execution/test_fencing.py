from __future__ import annotations

import threading

from baton.execution import fencing


def test_a_lease_not_renewed_in_time_is_fenced_and_no_longer_held() -> None:
    stopped: list[str] = []
    fenced = threading.Event()

    def stop(attempt_id: str) -> None:
        stopped.append(attempt_id)
        fenced.set()

    fence = fencing.Fence(lease=0.4, margin=0.1, stop=stop)
    try:
        fence.renewed(["a", "b"], fencing.now())
        assert fence.holds("a") and fence.holds("b")
        assert not fence.holds("never-claimed")
        fence.ended("b")
        assert not fence.holds("b")  # ended: nothing to start, nothing to fence
        assert fenced.wait(5), "the fence did not fire"
        assert stopped == ["a"]
        assert not fence.holds("a")  # a claim left unstarted this long is not started
    finally:
        fence.close()


def test_a_claim_asked_for_longer_ago_than_its_lease_is_not_held() -> None:
    fence = fencing.Fence(lease=30, margin=2, stop=lambda a: None)
    try:
        fence.renewed(["late"], fencing.now() - 29)  # its reply came after an outage
        assert not fence.holds("late")
    finally:
        fence.close()


def test_the_watchdog_starts_only_once_an_attempt_is_about_to_spawn(tmp_path) -> None:
    guard = fencing.Guard(str(tmp_path), lease=30, heartbeat=10, stop=lambda a: None)
    guard.start()
    watchdog = guard._watchdog
    assert watchdog is not None
    try:
        guard.claimed(["thread-task"], fencing.now())
        assert watchdog._proc is None  # attempts in threads leave no process to kill
        guard.spawning()
        proc = watchdog._proc
        assert proc is not None and proc.poll() is None
        guard.spawning()
        assert watchdog._proc is proc  # one watchdog per worker
    finally:
        guard.ended("thread-task")
        guard.close()
    assert proc.wait(10) == 0  # told nothing is left, it ends on its own
