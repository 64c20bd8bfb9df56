"""How to read each view: its axes, and what a good and a bad picture look like.

Short texts for a student, one per panel of the frame (the keys of ``PANELS`` plus the
loss landscape), shown by the app beside the frame ("How to read this") and printable
from the command line. Plain Markdown.

Example
-------
>>> GUIDES["loss_and_metric"].title
'Loss & accuracy'
>>> "axes" in guide_markdown(["loss_and_metric"]).lower()
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["GUIDES", "ViewGuide", "guide_markdown"]


@dataclass(frozen=True)
class ViewGuide:
    """How to read one view.

    Attributes
    ----------
    title : the panel's title.
    axes : what the axes, colours and marks are.
    good : what a network that learns well looks like here.
    bad : what trouble looks like here, and what it usually means.
    """

    title: str
    axes: str
    good: str
    bad: str

    def markdown(self) -> str:
        """The guide as a short Markdown section."""
        return (f"**{self.title}**  \n*Axes:* {self.axes}  \n*Good:* {self.good}  \n"
                f"*Bad:* {self.bad}")


GUIDES: dict[str, ViewGuide] = {
    "feature_space": ViewGuide(
        title="Feature space",
        axes="the two outputs of a hidden layer (for a wider layer, the plane of a PCA "
             "fitted once and then frozen). Each dot is a sample, coloured by its class; "
             "the grey lines are a square grid of the input space, bent by the same layers; "
             "the black line (white in the dark theme) is where the output is 0.5, the "
             "decision boundary. The output layer can only draw a straight line here, so "
             "the hidden layer has to twist the space until the classes can be cut apart "
             "by one.",
        good="the grid folds and stretches until the two colours lie on either side of the "
             "straight line, with a clear gap between them.",
        bad="the colours stay mixed however long you scrub: the layer is too narrow, or its "
            "activation saturates (all dots squeezed into a corner of a sigmoid's 0-1 box) or "
            "dies (relu: dots flattened onto an axis).",
    ),
    "decision_boundary": ViewGuide(
        title="Decision boundary",
        axes="the two input features. The background is the network's predicted "
             "probability of class 1 at every point (one colour per class, white where it is "
             "unsure), the line is the 0.5 boundary and the dots are the training samples. "
             "With more classes, each region takes the colour of the class that wins there.",
        good="the boundary settles between the classes and the colours get deep right up to "
             "it; every dot sits on its own colour.",
        bad="a boundary that keeps jumping (learning rate too high), one that hardly moves "
            "for many epochs (a plateau: too low, or saturated units), or one that wraps "
            "single dots in small islands (overfitting: it learns the noise).",
    ),
    "probability_histogram": ViewGuide(
        title="Probability histograms",
        axes="how many samples (height) got each predicted probability of class 1 "
             "(across, 0 to 1), one histogram for the negatives and one for the positives. "
             "The hatched vermilion part of a bar counts the misclassified samples, on the "
             "wrong side of 0.5. For more classes: the probability each sample gives its "
             "true class, one band per class, beside the confusion matrix.",
        good="the negatives pile up near 0 and the positives near 1, with no vermilion left.",
        bad="both piles stay around 0.5 (the network is unsure of everything), or a vermilion "
            "pile sits confidently on the wrong end (sure and wrong: those samples are "
            "hard, mislabelled, or the model is too simple).",
    ),
    "loss_and_metric": ViewGuide(
        title="Loss & accuracy",
        axes="epochs across; loss on the left axis (the dark line), accuracy 0 to 1 on "
             "the right (green); dashed lines are the validation data when some is held out. The "
             "vertical line and the dots mark the epoch shown. The small triangles along "
             "the top mark the run's events (100 % accuracy, the last crossing, learning "
             "rate cuts, the best validation loss, plateaus, early stop); the ticks along "
             "the bottom mark each new low of misclassified samples.",
        good="the loss falls fast, then slowly, while accuracy climbs to its top; the "
             "validation curves follow the training ones.",
        bad="a flat loss for many epochs (a plateau), a loss that zigzags or shoots up "
            "(learning rate too high; NaN means it diverged), or validation loss rising "
            "while the training loss keeps falling (overfitting).",
    ),
    "loss_histogram": ViewGuide(
        title="Loss histogram",
        axes="how many samples (height) have each per-sample loss (across; 0 is a "
             "perfect, confident answer), stacked by class.",
        good="the whole histogram slides to the left and piles up against 0.",
        bad="a long tail to the right that never goes away: a few samples the network "
            "gets badly and confidently wrong, which the average loss hides.",
    ),
    "landscape": ViewGuide(
        title="Loss landscape",
        axes="a plane through weight space: its two directions are the main ones the "
             "weights moved along during training (a PCA of every epoch's weights), and "
             "the title says how much of that movement the plane keeps. The colours are the "
             "loss of the network with the weights at each point of the plane (darker is "
             "lower), the line is the path the optimizer took and the dot is the epoch "
             "shown.",
        good="the path runs downhill across the contours into a low valley and slows "
             "down there.",
        bad="a path that zigzags across a valley (learning rate too high; momentum "
            "overshooting), or one that crawls along a flat region (a plateau). A low "
            "share of variance means the plane misses much of the real path.",
    ),
}
"""Guides by panel name."""


def guide_markdown(panels: Iterable[str] | None = None) -> str:
    """The guides of ``panels`` (every guide when None) as Markdown, in that order;
    unknown names are skipped."""
    names = list(GUIDES) if panels is None else [p for p in panels if p in GUIDES]
    return "\n\n".join(GUIDES[name].markdown() for name in names)
