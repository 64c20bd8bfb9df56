"""Run files on disk (h5py; imports ``data`` and ``errors`` only), in import order:

``names`` (run names) and ``records`` (what a run holds) -> ``h5guard`` (reading an
untrusted file inside itself and its limits) -> ``opening`` (opening files, their errors,
the files this process writes) -> ``layout`` (where a run sits in a file) -> ``samples``
(the checks of inputs and targets) -> ``reader``, ``writer``, ``edit`` -> ``upload``
(checking a file nobody here wrote, and writing its runs afresh) -> ``runfile`` (the
public front: every name above that callers use) -> ``quotas`` (disk quotas, expiry)
-> ``workspace`` (a session's folder of run files).
"""
