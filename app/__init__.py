"""The composition root: the command line, its commands, the runtime that builds every part from `Settings`,
and the terminal chat. It sits above `ui` and is imported by nothing inside the project."""
