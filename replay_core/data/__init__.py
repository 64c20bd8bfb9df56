"""What a run is made of: specs, presets, datasets, uploaded CSV data and the activation
functions a network may use (numpy and scikit-learn; imports nothing else of the package
but ``errors``)."""
