"""Gradio user interface: customer chat and staff trace console."""
