"""Voice-note transcription (the `Transcriber` role): faster-whisper (default) and openai-whisper backends.

Import what you need from the submodules: `protocol` (types), `factory.make_transcriber` (build one by
name), `faster_whisper` and `openai_whisper` (the backends). Nothing here loads weights at import.
"""
