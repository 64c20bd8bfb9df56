"""Training with Keras: the model builder, the fast trainer, the recording callback and
seed sweeps. The only layer that imports TensorFlow or Keras (lazily); it hands every
epoch to ``store``'s writer."""

from replay_core.train import quiet as _quiet

_quiet.install()
