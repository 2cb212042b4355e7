"""Answer generators: grounded support answers with [n] citations from retrieved evidence.

`protocol` holds the value types and the `Generator` role, `prompt` packs evidence into the model
input, `t5` (a local Flan-T5 or fine-tuned checkpoint) and `extractive` (quoted KB sentences) are the
two backends, `grounding` checks that an answer is supported by the passages it cites, and `factory`
builds a backend by name.
"""
