"""Drawing view data with matplotlib: the single-run frame, the compare frame, the unit
strip and the export of animations (imports ``replay``, ``data`` and ``errors``; never
TensorFlow, Keras, Streamlit or ``train``)."""
