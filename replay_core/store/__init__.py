"""Run files on disk: the HDF5 writer and readers, the checks that keep a read inside the
file and its limits, uploads written afresh, and a session's workspace (h5py; imports
``data`` and ``errors`` only)."""
