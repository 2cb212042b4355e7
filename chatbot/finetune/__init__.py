"""Fine-tuning the T5 answer generator: training data (`data`), the training loop (`train`), metrics.

This is the library behind `supportbot finetune`; the CLI only parses flags into `FinetuneOptions`.
"""
