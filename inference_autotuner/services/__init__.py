"""The application layer: task commands (commands.py) and read views (views.py, summary.py) that the CLI and the API
both call, so they say the same thing. Nothing here prints or speaks HTTP: errors are errors.py's (each carries its
exit status and HTTP status)."""
