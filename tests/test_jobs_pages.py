"""The Train page with jobs: a click returns at once, the previous run's status and its
"Open in Replay" stay off screen while a new run trains, Stop keeps the finished epochs."""

from __future__ import annotations

from prebuilt_runs import SMALL_SAMPLES, new_session_id
from test_pages import button, check, finish_jobs, open_app, texts, workspace_of

from studio import jobs
from studio.form import dataset_param_key


def test_a_new_run_hides_the_previous_ones_status_until_it_ends(data_root):
    sid = new_session_id()
    at = open_app(sid)
    at.number_input(key=dataset_param_key("parabola", "n_samples")).set_value(SMALL_SAMPLES)
    at.number_input(key="epochs").set_value(3)
    at.text_input(key="run_name").set_value("first")
    check(at.run())
    check(finish_jobs(check(button(at, "Train").click().run())))
    assert "complete, 3 of 3 epochs" in texts(at.success)[0]
    assert [b.key for b in at.button if b.key == "open_replay"]

    # A long second run: the page returns while it trains, without the first's status.
    at.number_input(key="epochs").set_value(2000)
    at.number_input(key="batch").set_value(1)
    at.text_input(key="run_name").set_value("second")
    check(at.run())
    check(button(at, "Train").click().run())
    ws = workspace_of(data_root, sid)
    assert jobs.jobs_of(ws)[0].state in ("queued", "running")
    assert not at.success and not [b for b in at.button if b.key == "open_replay"]

    check(at.button(key="stop_training").click().run())
    check(finish_jobs(at))
    second = next(r for r in ws.runs() if r.name == "second")
    assert second.status == "stopped" and second.epochs_done < 2000
    warnings = texts(at.warning)
    assert len(warnings) == 1 and warnings[0].startswith(
        f"**second** — stopped, {second.epochs_done} of 2000 epochs"), warnings
    assert jobs.jobs_of(ws)[0].message == (f"Stopped after epoch {second.epochs_done}: "
                                           f"{second.epochs_done} epochs kept.")
