"""The Litestar shell of Common Purse: settings, database wiring, auth, HTTP and the CLI."""
