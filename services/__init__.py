"""Use cases, one small handler per case, called by every entry point (routes, console pages, CLI
commands, flow tasks): each gets its access check, audit and errors from here."""
