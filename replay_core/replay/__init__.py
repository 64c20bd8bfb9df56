"""Replaying a stored run with numpy alone: the forward pass of every epoch's weights,
projections of wide layers, and the view data every renderer draws (imports ``data``,
``store`` and ``errors``; never TensorFlow, Keras, Streamlit or ``train``)."""
