"""The `gongyu` command line."""
