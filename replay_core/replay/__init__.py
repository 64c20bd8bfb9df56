"""Replaying a stored run with numpy alone: the forward pass of every epoch's weights,
projections of wide layers, and the view data every renderer draws (imports ``data``,
``store`` and ``errors``; never TensorFlow, Keras, Streamlit or ``train``).

- ``replayer``: ``Replay``, the facade: reads a run once, chooses its output head, hands
  arrays to the view modules below.
- ``forward``: the network of stored weights, every epoch at once; ``projection``: fixed
  2-D projections of wide layers.
- ``heads``: the output head (two classes or k), the one place that knows the difference:
  probabilities, predicted classes, cross-entropy, boundary lines.
- One module per view family, each computing a frozen view of ``views`` from arrays:
  ``feature_space``, ``decision_boundary``, ``histograms``, ``curves``, ``confusion``,
  ``unit_maps``; with ``ranges`` (axis ranges fixed over epochs, runs that blew up) and
  ``contours`` (boundary polylines).
- Layer internals: ``internals`` (``Internals``), ``backprop`` (the numpy backward pass),
  ``violins`` (per-epoch histograms), ``internals_views``.
- ``events`` and ``narration`` (what happened when, in words), ``landscape`` (the loss
  around the optimizer's path), ``compare`` (several runs on shared axes).
"""
