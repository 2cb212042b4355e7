"""Gradio user interface: the public customer chat and the staff trace console behind a login.

Importing this package turns Gradio's analytics off (`GRADIO_ANALYTICS_ENABLED=False`) before any
submodule imports gradio: with analytics on, gradio calls out to the internet on every start.
Only the command line (`supportbot serve` / `supportbot demo`) imports this package.
"""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
