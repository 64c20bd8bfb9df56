"""The server-wide cap on concurrent trainings and sweep workers (``studio.capacity``),
across threads as Streamlit's sessions are, and on the pages that start work."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from prebuilt_runs import new_session_id
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException
from streamlit.testing.v1 import AppTest

from replay_core.errors import ReplayError, ServerBusyError
from replay_core.store.workspace import Workspace
from replay_core.train import machine, sweep
from studio import capacity, jobs

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"


@pytest.fixture(autouse=True)
def nothing_left_running():
    """Every test starts and ends with no slot taken: the counters are process-wide."""
    assert capacity.running("training") == capacity.running("workers") == 0
    yield
    assert capacity.running("training") == capacity.running("workers") == 0


class Holder:
    """Threads that each take a slot and keep it until ``let_go``, as sessions would."""

    def __init__(self, kind: str, n: int = 1, minimum: int | None = None) -> None:
        self.kind, self.n, self.minimum = kind, n, minimum
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []
        self.outcomes: list[object] = []  # slots granted, or the error raised
        self._lock = threading.Lock()

    def _hold(self, taken: threading.Event) -> None:
        try:
            with capacity.slot(self.kind, self.n, minimum=self.minimum) as granted:
                with self._lock:
                    self.outcomes.append(granted)
                taken.set()
                self.release.wait(30)
        except ServerBusyError as exc:
            with self._lock:
                self.outcomes.append(exc)
            taken.set()

    def start(self, count: int = 1) -> list[object]:
        """Start ``count`` threads one after another; what each got."""
        for _ in range(count):
            taken = threading.Event()
            thread = threading.Thread(target=self._hold, args=(taken,), daemon=True)
            self.threads.append(thread)
            thread.start()
            assert taken.wait(10)
        return self.outcomes[-count:]

    def let_go(self) -> None:
        self.release.set()
        for thread in self.threads:
            thread.join(10)


@pytest.fixture
def holders():
    made: list[Holder] = []

    def make(kind: str, n: int = 1, minimum: int | None = None) -> Holder:
        made.append(Holder(kind, n, minimum))
        return made[-1]

    yield make
    for holder in made:
        holder.let_go()


def test_the_limits_hold_across_threads(monkeypatch, holders):
    monkeypatch.setenv("DEEPREPLAY_MAX_TRAININGS", "3")
    trainings = holders("training")
    assert trainings.start(3) == [1, 1, 1]
    assert capacity.running("training") == 3
    [refused] = trainings.start(1)
    assert isinstance(refused, ServerBusyError) and isinstance(refused, ReplayError)
    assert str(refused) == "The server is busy with 3 other trainings; try again in a minute."
    # The workers' count is apart from the trainings'.
    monkeypatch.setenv("DEEPREPLAY_MAX_WORKERS", "1")
    with capacity.slot("workers") as granted:
        assert granted == 1 and capacity.running("workers") == 1
    trainings.let_go()
    assert capacity.running("training") == 0
    with capacity.slot("training"):
        assert capacity.running("training") == 1


def test_one_other_training_is_said_in_the_singular(monkeypatch, holders):
    monkeypatch.setenv("DEEPREPLAY_MAX_TRAININGS", "1")
    holders("training").start(1)
    with pytest.raises(ServerBusyError, match=r"^The server is busy with 1 other training; "):
        capacity.acquire("training")


def test_a_slot_is_given_back_when_its_block_raises(monkeypatch):
    monkeypatch.setenv("DEEPREPLAY_MAX_TRAININGS", "1")
    with pytest.raises(RuntimeError), capacity.slot("training"):
        assert capacity.running("training") == 1
        raise RuntimeError("training failed")
    assert capacity.running("training") == 0
    # Streamlit's stop and rerun are BaseExceptions raised inside the script thread.
    for interruption in (StopException(), RerunException(None)):
        with pytest.raises(type(interruption)), capacity.slot("training"):
            raise interruption
        assert capacity.running("training") == 0
    with capacity.slot("training"):  # free again
        pass


def test_a_sweep_gets_fewer_workers_when_fewer_are_free(monkeypatch, holders):
    monkeypatch.setenv("DEEPREPLAY_MAX_WORKERS", "4")
    assert holders("workers", 3).start(1) == [3]
    with capacity.slot("workers", 4, minimum=1) as granted:
        assert granted == 1 and capacity.running("workers") == 4
        with pytest.raises(ServerBusyError,
                           match="busy with 4 other sweep worker processes; try again"):
            capacity.acquire("workers", 2, minimum=1)
    assert capacity.running("workers") == 3
    # All or nothing unless a minimum is given.
    with pytest.raises(ServerBusyError):
        capacity.acquire("workers", 2)
    assert capacity.running("workers") == 3


def test_trainings_inside_a_held_training_slot_take_no_other(monkeypatch):
    # Compare's button holds one slot for its three trainings, each of which asks again.
    monkeypatch.setenv("DEEPREPLAY_MAX_TRAININGS", "1")
    with capacity.slot("training"):
        for _ in range(3):
            with capacity.slot("training"):
                assert capacity.running("training") == 1
        assert capacity.running("training") == 1
    assert capacity.running("training") == 0
    # Another thread still sees the server busy while the slot is held.
    seen: list[object] = []
    with capacity.slot("training"):
        def other() -> None:
            try:
                capacity.acquire("training")
            except ServerBusyError as exc:
                seen.append(exc)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
    assert len(seen) == 1


def test_limits_follow_the_settings_and_the_machine(monkeypatch):
    monkeypatch.delenv("DEEPREPLAY_MAX_TRAININGS", raising=False)
    monkeypatch.delenv("DEEPREPLAY_MAX_WORKERS", raising=False)
    assert 1 <= capacity.limit("training") <= sweep.usable_cores()
    assert 1 <= capacity.limit("workers") <= sweep.usable_cores()
    monkeypatch.setenv("DEEPREPLAY_MAX_TRAININGS", "7")
    monkeypatch.setenv("DEEPREPLAY_MAX_WORKERS", "5")
    assert (capacity.limit("training"), capacity.limit("workers")) == (7, 5)
    monkeypatch.setenv("DEEPREPLAY_MAX_WORKERS", "none")  # not a number: the machine's
    assert 1 <= capacity.limit("workers") <= sweep.usable_cores()
    with pytest.raises(ValueError, match="kind must be one of"):
        capacity.limit("gpus")
    with pytest.raises(ValueError, match="minimum"):
        capacity.acquire("workers", 2, minimum=3)


@pytest.mark.parametrize("quota, memory_mb, cores, expected", [
    ("7800 100000", 690, 8, (1, 1)),        # the smallest server: 0.078 CPUs, 690 MB
    ("200000 100000", 2765, 8, (2, 2)),     # 2 CPUs, 2.7 GB
    ("max 100000", 1000, 16, (3, 1)),       # no quota: memory decides
])
def test_limits_come_from_the_cpu_quota_and_the_memory(monkeypatch, quota, memory_mb, cores,
                                                       expected):
    files = {"/sys/fs/cgroup/cpu.max": quota,
             "/proc/meminfo": f"MemAvailable: {memory_mb * 1024} kB"}
    monkeypatch.setattr(machine, "_read", lambda path: files.get(path))
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr(capacity, "_hardware", {})  # read afresh, as a new server would
    for name in ("DEEPREPLAY_MAX_TRAININGS", "DEEPREPLAY_MAX_WORKERS", sweep.WORKERS_ENV):
        monkeypatch.delenv(name, raising=False)
    assert (capacity.limit("training"), capacity.limit("workers")) == expected
    # Read once: the memory this server's own work takes later does not lower them.
    files["/proc/meminfo"] = "MemAvailable: 1024 kB"
    assert (capacity.limit("training"), capacity.limit("workers")) == expected


# -- pages ---------------------------------------------------------------------------------


def _open(session_id: str, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["session_id"] = session_id
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _click(at: AppTest, label: str) -> AppTest:
    [found] = [b for b in at.button if b.label == label]
    found.click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_full_server_trains_nothing_and_says_so(data_root, monkeypatch, holders):
    # The server's job queue is full: a training is not even queued.
    monkeypatch.setattr(jobs, "QUEUE_PER_WORKER", 0)
    sid = new_session_id()
    at = _open(sid)
    # The Train page says what a run costs before it is started.
    assert any("steps, under 1% of a run's budget" in c.value for c in at.caption)
    _click(at, "Train")
    assert [w.value for w in at.warning] == [
        "The server is busy: 0 jobs wait for a worker already; try again in a minute."]
    assert not at.error and not at.success
    assert Workspace(data_root / "sessions" / sid).runs() == []
    assert "training_run" not in at.session_state and jobs.jobs_of(
        Workspace(data_root / "sessions" / sid)) == []

    monkeypatch.setenv("DEEPREPLAY_MAX_TRAININGS", "1")
    holders("training").start(1)  # another session is training
    warnings = ["The server is busy with 1 other training; try again in a minute."]

    # Compare's "Activation functions in action" trains nothing either.
    at = _click(_open(sid, "app_pages/compare.py"), "Activation functions in action")
    assert [w.value for w in at.warning] == warnings and not at.error
    assert Workspace(data_root / "sessions" / sid).runs() == []


def test_a_sweep_the_server_cannot_queue_does_not_start(data_root, monkeypatch):
    monkeypatch.setattr(jobs, "QUEUE_PER_WORKER", 0)  # the server's job queue is full
    sid = new_session_id()
    at = _open(sid, "app_pages/sweep.py")
    _click(at, "Sigmoid, tanh and relu (reference run)")
    at.number_input(key="sweep_seeds").set_value(2).run()
    _click(at, "Start")
    assert [w.value for w in at.warning] == [
        "The server is busy: 0 jobs wait for a worker already; try again in a minute."]
    assert not at.error and not at.success
    assert Workspace(data_root / "sessions" / sid).runs() == []
