"""What the Seed sweep page shows of a sweep: a table, a sentence, two strip plots.

Pure functions of ``replay_core.train.sweep`` results (no Streamlit): the page hands the
charts to ``st.altair_chart``. A dot is one seed's run; clicking it selects the run's
name through the selection parameter ``PICK``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from replay_core.train.sweep import ConfigSummary, SweepRun

PICK = "pick"
NEVER = "never"
# Vega renders the charts as SVG: sharp at any zoom, and every dot is an element of the page.
SVG = {"embedOptions": {"renderer": "svg"}}
ROW_HEIGHT = 56
# Distinct hues that read on light and dark backgrounds (Tableau 10), one per configuration.
PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2", "#eeca3b", "#72b7b2",
           "#9d755d"]
AXIS_HEIGHT = 60
LOG_RATIO = 20  # largest / smallest final loss from which the loss axis is logarithmic


def summary_rows(summaries: Sequence[ConfigSummary]) -> list[dict]:
    """One table row per configuration: seeds, reached 100 %, never, medians."""
    rows = []
    for s in summaries:
        fp = s.first_perfect
        first = (f"{_num(s.median_first_perfect)} [{min(fp)}–{max(fp)}]" if fp else "—")
        losses = [v for v in s.final_loss if math.isfinite(v)]
        loss = (f"{s.median_final_loss:.4f} [{min(losses):.4f}–{max(losses):.4f}]"
                if losses else "—")
        row = {
            "configuration": s.config,
            "seeds": s.seeds,
            "reached 100%": s.seeds - s.never,
            "never": f"{s.never} ({s.never_share:.0%})",
            "first 100% epoch: median [range]": first,
            "final loss: median [range]": loss,
        }
        if s.diverged:
            row["diverged"] = s.diverged
        rows.append(row)
    if any("diverged" in r for r in rows):
        for r in rows:
            r.setdefault("diverged", 0)
    return rows


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def interpretation(summaries: Sequence[ConfigSummary], budgets: Mapping[str, int]) -> str:
    """A sentence or two a learner can take away: the fastest, and the least reliable."""
    if not summaries:
        return ""
    parts = []
    reached = [s for s in summaries if s.first_perfect]
    if not reached:
        parts.append("No seed of any configuration reached 100% training accuracy within "
                     "its epochs.")
    elif len(summaries) == 1:
        s = summaries[0]
        parts.append(f"{s.config} reached 100% training accuracy at epoch "
                     f"{_num(s.median_first_perfect)} (median over the seeds that reached it).")
    else:
        fastest = min(reached, key=lambda s: (s.median_first_perfect, s.never_share))
        ties = [s.config for s in reached
                if s.median_first_perfect == fastest.median_first_perfect]
        who = " and ".join(ties)
        parts.append(f"{who} reached 100% training accuracy fastest: median epoch "
                     f"{_num(fastest.median_first_perfect)}.")
    worst = max(summaries, key=lambda s: s.never_share)
    if worst.never == 0:
        parts.append("Every seed of every configuration got there.")
    elif len(summaries) > 1 and all(s.never_share == worst.never_share for s in summaries):
        parts.append(f"Every configuration missed it on {worst.never_share:.0%} of its seeds "
                     f"({worst.never} of {worst.seeds}).")
    else:
        others = [s for s in summaries if s is not worst and s.never_share == worst.never_share]
        who = " and ".join([worst.config, *(s.config for s in others)])
        each = " each" if others else ""
        parts.append(f"{who} failed most often{each}: {worst.never} of {worst.seeds} seeds "
                     f"({worst.never_share:.0%}) never reached it within "
                     f"{budgets.get(worst.config, '?')} epochs.")
        fine = [s.config for s in summaries if s.never == 0]
        if fine:
            parts.append(f"Every seed of {', '.join(fine)} reached it.")
    return " ".join(parts)


def sweep_frame(runs: Sequence[SweepRun]) -> pd.DataFrame:
    """One row per run with the values the charts plot and a fixed jitter per seed."""
    rows = [{
        "run": r.name,
        "config": r.config,
        "seed": r.seed,
        "status": r.status,
        "first_perfect": (np.nan if r.first_perfect_epoch is None
                          else float(r.first_perfect_epoch)),
        "reached": r.first_perfect_epoch is not None,
        "final_loss": r.final_loss if math.isfinite(r.final_loss) else np.nan,
        # A golden-ratio sequence spreads the seeds evenly over the row, the same way
        # on every redraw.
        "jitter": ((r.seed * 0.6180339887) % 1.0) * 2 - 1,
    } for r in runs]
    return pd.DataFrame(rows, columns=["run", "config", "seed", "status", "first_perfect",
                                       "reached", "final_loss", "jitter"])


def _nice_ticks(top: float, count: int = 6) -> list[float]:
    """Round tick values from 0 to ``top``."""
    if top <= 0:
        return [0.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [float(v) for v in np.arange(0, top + step * 1e-9, step)]


def _height(configs: Sequence[str]) -> int:
    # Streamlit fits the whole chart, axis and title included, into the height.
    return AXIS_HEIGHT + max(2, len(configs)) * ROW_HEIGHT


def box_stats(frame: pd.DataFrame, column: str, configs: Sequence[str]) -> pd.DataFrame:
    """Per configuration with at least one value in ``column``: its row, min, quartiles,
    median and max (numpy's linear quantiles, as Vega-Lite's box plots)."""
    rows = []
    for row, config in enumerate(configs):
        values = frame.loc[frame["config"] == config, column].dropna().to_numpy(float)
        if values.size:
            q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
            rows.append({"config": config, "row": row, "min": values.min(), "q1": q1,
                         "median": median, "q3": q3, "max": values.max()})
    return pd.DataFrame(rows, columns=["config", "row", "min", "q1", "median", "q3", "max"])


def first_perfect_chart(frame: pd.DataFrame, configs: Sequence[str], budget: int) -> alt.LayerChart:
    """First epoch at 100 % training accuracy per configuration: box and one dot a seed.

    Seeds that never got there sit right of a dashed line at the end of training, over
    the axis label "never".
    """
    never_at = budget * 1.1 + 1
    data = frame.assign(
        x=frame["first_perfect"].fillna(never_at),
        value=[f"epoch {int(v)}" if ok else f"{NEVER} (in {budget} epochs)"
               for v, ok in zip(frame["first_perfect"], frame["reached"])],
        outcome=np.where(frame["reached"], "reached", NEVER))
    ticks = [t for t in _nice_ticks(budget) if t < budget * 0.9] + [float(budget), never_at]
    x = alt.Axis(values=ticks, grid=False,
                 labelExpr=f"datum.value > {budget} ? '{NEVER}' : datum.label")
    scale = alt.Scale(domain=[0, never_at + budget * 0.06], nice=False)
    return _strip(data, box_stats(frame, "first_perfect", configs), configs,
                  title="first epoch at 100% training accuracy", axis=x, scale=scale,
                  rule_at=budget + budget * 0.05 + 0.5)


def final_loss_chart(frame: pd.DataFrame, configs: Sequence[str]) -> alt.LayerChart:
    """Final training loss per configuration: box and one dot a seed (diverged runs left out)."""
    data = frame[frame["final_loss"].notna()].assign(
        x=lambda d: d["final_loss"], value=lambda d: [f"{v:.4f}" for v in d["final_loss"]],
        outcome="reached")
    losses = data["x"].to_numpy(float)
    # Losses of converged and stuck seeds differ by orders of magnitude: a log axis keeps
    # both readable.
    log = losses.size > 0 and losses.min() > 0 and losses.max() / losses.min() > LOG_RATIO
    title = "final loss (training set, log scale)" if log else "final loss (training set)"
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False, nice=True)
    return _strip(data, box_stats(frame, "final_loss", configs), configs, title=title,
                  axis=alt.Axis(grid=False, tickCount=6), scale=scale)


def _strip(points: pd.DataFrame, boxes: pd.DataFrame, configs: Sequence[str], *, title: str,
           axis: alt.Axis, scale: alt.Scale, rule_at: float | None = None) -> alt.LayerChart:
    """Rows of configurations (first on top); a box from the quartiles, a line from min to
    max and the median across it; the dots jittered within the row."""
    configs = list(configs)
    rows = {c: i for i, c in enumerate(configs)}
    color = alt.Color("config:N", scale=alt.Scale(domain=configs, range=PALETTE), legend=None)
    y_scale = alt.Scale(domain=[len(configs) - 0.5, -0.5], nice=False, zero=False)
    y_axis = alt.Axis(values=list(range(len(configs))), grid=False, ticks=False, domain=False,
                      labelExpr=f"{json.dumps(configs)}[datum.value]", labelFontSize=13,
                      labelLimit=160, labelPadding=8, title=None)
    x = alt.X("x:Q", title=title, axis=axis, scale=scale)
    boxes = boxes.assign(top=boxes["row"] - 0.22, bottom=boxes["row"] + 0.22)
    base = alt.Chart(boxes)
    whisker = base.mark_rule(opacity=0.7).encode(
        x=alt.X("min:Q", title=title, axis=axis, scale=scale), x2="max:Q",
        y=alt.Y("row:Q", scale=y_scale, axis=y_axis), color=color)
    box = base.mark_rect(opacity=0.3, cornerRadius=2).encode(
        x="q1:Q", x2="q3:Q", y="top:Q", y2="bottom:Q", color=color)
    # The median bar reaches past the dots' spread, so a dense row does not hide it.
    median = alt.Chart(boxes.assign(top=boxes["row"] - 0.4, bottom=boxes["row"] + 0.4)
                       ).mark_rule(strokeWidth=3).encode(
        x="median:Q", y="top:Q", y2="bottom:Q", color=color)
    pick = alt.selection_point(name=PICK, fields=["run"], on="click")
    points = points.assign(y=[rows[c] + 0.3 * j for c, j in zip(points["config"],
                                                              points["jitter"])],
                           aria=[f"{r}: {v}" for r, v in zip(points["run"], points["value"])])
    many = len(points) > 12 * max(1, len(configs))
    dots = alt.Chart(points).mark_point(filled=True, size=55 if many else 85,
                                        opacity=0.8 if many else 0.95, cursor="pointer",
                                        stroke="white", strokeWidth=0.8).encode(
        x=x, y=alt.Y("y:Q", scale=y_scale, axis=y_axis), color=color,
        shape=alt.Shape("outcome:N", scale=alt.Scale(domain=["reached", NEVER],
                                                      range=["circle", "diamond"]),
                        legend=None),
        description="aria:N",
        tooltip=[alt.Tooltip("run:N", title="run"), alt.Tooltip("seed:Q", title="seed"),
                 alt.Tooltip("value:N", title="value")],
    ).add_params(pick)
    layers = [whisker, box, dots, median]
    if rule_at is not None:
        layers.insert(0, alt.Chart(pd.DataFrame({"x": [rule_at]})).mark_rule(
            strokeDash=[4, 4], opacity=0.5, color="gray").encode(x=x))
    return alt.layer(*layers).properties(height=_height(configs), usermeta=SVG)


def picked_run(event) -> str | None:
    """The run name a click on a dot selected, from ``st.altair_chart``'s return value."""
    try:
        selection = event["selection"][PICK]
    except (KeyError, TypeError):
        return None
    if isinstance(selection, Mapping):  # {"run": [...]} in some versions
        values = selection.get("run")
        if isinstance(values, list) and values:
            return str(values[0])
        return str(values) if values else None
    for item in selection or []:
        if isinstance(item, Mapping) and item.get("run"):
            return str(item["run"])
    return None
