"""The kernel every layer shares: errors, settings, value types, model lookup, devices and precision, text
normalisation. It imports nothing from the rest of the project."""
