"""Drawing view data with matplotlib (imports ``replay``, ``data`` and ``errors``; never
TensorFlow, Keras, Streamlit or ``train``).

- ``style``: themes, class colours, font sizes, the styling of an Axes.
- ``canvas``: the frame machinery every renderer shares (figure, Agg canvas, cached
  background, blitting, RGB/PNG/JPEG out), the panel protocol, epoch/size/panel checks.
- ``space_artists``, ``histogram_artists``, ``curve_artists``: one artist per view.
- ``artists``: the table from view type to artist, and the ``draw_*`` functions.
- ``frame``: the single-run frame (``FrameRenderer``) and ``compose``.
- ``compare``, ``units``, ``internals``, ``landscape``: the compare frame, the unit strip,
  the layer internals and the loss landscape, on the same machinery.
- ``export``: animations and stills; ``guide``: how to read each view.
"""
