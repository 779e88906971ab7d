"""REDS training from a Keras model: width graph, Taylor importance, permutation, nested widths, joint fine-tuning,
int8 export. Needs TensorFlow and Keras 3 (the `tf` extra)."""
